"""Checks of the accounting scenarios: the service judged by what it answers, what it stored (read back
through the service's read routes) and what the provider saw (the sandbox's request log and token grants).
"What the provider shows" is read straight from the sandbox's provider API, so the comparison does not trust
the service.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from pytest_bdd import parsers, then

from steps.common import World, describe
from steps.support.accounting import (
    CONTACT_FIELDS,
    MYOB,
    PROVIDER,
    PROVIDERS,
    QUICKBOOKS,
    XERO,
    Books,
    integration,
    ok_json,
    org,
    provider_records,
    sandbox_requests,
    service_grants,
    service_records,
)

# --- then ------------------------------------------------------------------------------------------


@then(parsers.re(r'the integration of "(?P<name>[^"]+)" is linked to it, holding tokens it never shows$'))
def accounting_linked(world: World, books: Books, name: str) -> None:
    chosen, shown = org(world, books, name), integration(world, name)
    assert shown["integrationType"] == chosen.provider.integration_type, f"wrong type: {shown}"
    assert shown["customData"].get(chosen.provider.linked_key) == chosen.tenant_id, f"not linked to it: {shown}"
    if chosen.provider is not QUICKBOOKS:  # Xero and MYOB also name the organisation / file
        label = "tenantName" if chosen.provider is XERO else "companyFileName"
        assert shown["customData"].get(label) == chosen.name, f"the name is not stored: {shown}"
    assert (shown["hasAccessToken"], shown["hasRefreshToken"]) == (True, True), f"tokens not stored: {shown}"
    assert shown["tokenExpiresAt"] is not None, f"the token's expiry was not stored: {shown}"
    assert shown["syncStatus"] == "IDLE", f"a new connection should be idle: {shown}"
    leaked = {"accessToken", "refreshToken", "access_token", "refresh_token"} & set(shown)
    assert not leaked, f"the integration shows its tokens: {sorted(leaked)}"
    listed = ok_json(books.owner[name].client.get("/api/integrations", params={"limit": 200}))
    assert shown["id"] in {item["id"] for item in listed["integrations"]}, "the integration is not in the user's list"


@then(parsers.re(PROVIDER + r' holds a live consent for "(?P<name>[^"]+)" given to the service$'))
def accounting_live_grant(world: World, books: Books, provider: str, name: str) -> None:
    grants = service_grants(world, org(world, books, name))
    assert len(grants) == 1, f"expected one consent for {name} at {provider}, found {len(grants)}"
    grant = grants[0]
    assert grant["current_refresh_sha256"], f"the consent has no live refresh token: {grant}"
    assert any(not token["expired"] and not token["revoked"] for token in grant["access_tokens"]), grant


@then(parsers.re(r'the connection test of "(?P<name>[^"]+)" (?P<outcome>succeeds|fails)$'))
def accounting_connection_test(world: World, books: Books, name: str, outcome: str) -> None:
    tested = books.owner[name].client.post(f"/api/integrations/{integration(world, name)['id']}/test")
    if outcome == "succeeds":
        assert ok_json(tested).get("ok") is True, f"expected ok true: {describe(tested)}"
    else:
        assert tested.status_code == 422, f"expected 422 connection_failed: {describe(tested)}"


@then(parsers.re(r"the sync succeeds with (?P<count>\d+) (?P<kind>invoices|contacts)$"))
def accounting_sync_succeeds(world: World, count: str, kind: str) -> None:
    result = ok_json(world.last_response())["result"]
    expected = int(count)
    counts = (result["status"], result["totalRecords"], result["syncedRecords"], result["failedRecords"])
    assert counts == ("success", expected, expected, 0), f"expected success with {expected} {kind}: {result}"


@then(parsers.re(r"the sync fails with a clear error asking to reconnect$"))
def accounting_sync_asks_to_reconnect(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 502, f"expected 502 (the provider refused): {describe(response)}"
    result = response.json()["result"]
    assert (result["status"], result["success"]) == ("failed", False), f"expected a failed run: {result}"
    assert "reconnect" in result["message"].lower(), f"the message should say to reconnect: {result['message']}"


@then(parsers.re(r'the integration of "(?P<name>[^"]+)" is marked as needing reconnection$'))
def accounting_needs_reconnection(world: World, books: Books, name: str) -> None:
    user = books.owner[name]
    shown = ok_json(user.client.get(f"/api/integrations/{integration(world, name)['id']}"))["integration"]
    assert shown["syncStatus"] == "ERROR", f"expected syncStatus ERROR: {shown}"
    assert "reconnect" in (shown["syncError"] or "").lower(), f"syncError should say to reconnect: {shown}"


@then(parsers.re(r'the integration of "(?P<name>[^"]+)" is healthy after its sync$'))
def accounting_integration_healthy(world: World, books: Books, name: str) -> None:
    user = books.owner[name]
    shown = ok_json(user.client.get(f"/api/integrations/{integration(world, name)['id']}"))["integration"]
    assert (shown["syncStatus"], shown["syncError"]) == ("SUCCESS", None), f"expected a healthy integration: {shown}"
    assert shown["lastSyncedAt"] is not None, f"lastSyncedAt was not set: {shown}"


@then(parsers.re(r'the service tried at most one token refresh for "(?P<name>[^"]+)" and then stopped$'))
def accounting_no_refresh_loop(world: World, books: Books, name: str) -> None:
    chosen = org(world, books, name).provider
    since, until = books.sync_window
    calls = [entry for entry in sandbox_requests(world, chosen, since) if entry["seq"] <= until]
    refreshes = [entry for entry in calls if chosen.token_path_marker in entry["path"] and entry["method"] == "POST"]
    listings = [entry for entry in calls if chosen.listing_path in entry["path"]]
    assert len(refreshes) <= 1, f"the service refreshed {len(refreshes)} times: it must not retry a refused refresh"
    assert len(listings) <= 2, f"the service asked for {len(listings)} invoice pages with a dead connection"


@then(parsers.re(r'the service refreshed the tokens of "(?P<name>[^"]+)" once and ' + PROVIDER + r" rotated them$"))
def accounting_refreshed_once(world: World, books: Books, name: str, provider: str) -> None:
    chosen = org(world, books, name)
    since, until = books.sync_window
    calls = [entry for entry in sandbox_requests(world, chosen.provider, since) if entry["seq"] <= until]
    refreshes = [e for e in calls if chosen.provider.token_path_marker in e["path"] and e["method"] == "POST"]
    assert [entry["status"] for entry in refreshes] == [200], f"expected one successful refresh: {refreshes}"
    (grant,) = service_grants(world, chosen)
    before = books.refresh_before.get(grant["grant_id"])
    assert before is not None, "the access tokens were not expired in this scenario"
    assert grant["current_refresh_sha256"] not in (None, before), f"{provider} did not rotate the refresh token"
    used = next(token for token in grant["refresh_tokens"] if token["sha256"] == before)
    assert used["rotated"], "the refresh token live before the sync was not the one the service used"


@then(
    parsers.re(
        r'"(?P<user>[^"]+)" reads (?P<count>\d+) ' + PROVIDER + r' (?P<kind>invoices|contacts) of "(?P<name>[^"]+)"'
        r" through the service, each stored once$"
    )
)
def accounting_read_back(
    world: World, books: Books, user: str, count: str, provider: str, kind: str, name: str
) -> None:
    chosen = org(world, books, name)
    rows = service_records(world, world.user(user), PROVIDERS[provider], kind, integration(world, name)["id"])
    key = "xeroContactId" if kind == "contacts" else chosen.provider.invoice_id
    ids = [row[key] for row in rows]
    assert (len(rows), len(set(ids))) == (int(count), int(count)), (
        f"expected {count} {kind} stored once each: {len(rows)} rows, {len(set(ids))} distinct {key}"
    )
    if kind == "invoices" and chosen.provider.tenant_field:
        others = {row[chosen.provider.tenant_field] for row in rows} - {chosen.tenant_id}
        assert not others, f"{name}'s integration holds records of {sorted(others)}"


@then(
    parsers.re(
        r'the MYOB integration of "(?P<name>[^"]+)" holds (?P<first_count>\d+) invoices of "(?P<first>[^"]+)"'
        r' and (?P<second_count>\d+) of "(?P<second>[^"]+)"$'
    )
)
def accounting_per_company_file(
    world: World, books: Books, name: str, first_count: str, first: str, second_count: str, second: str
) -> None:
    rows = service_records(world, books.owner[name], MYOB, "invoices", integration(world, name)["id"])
    by_file = {org(world, books, label).tenant_id: label for label in (first, second)}
    counted = dict.fromkeys((first, second), 0)
    for row in rows:
        assert row["companyFileId"] in by_file, f"an invoice of an unknown company file: {row['companyFileId']}"
        counted[by_file[row["companyFileId"]]] += 1
    assert counted == {first: int(first_count), second: int(second_count)}, f"invoices per company file: {counted}"


@then(parsers.re(r'the stored (?P<kind>invoices|contacts) of "(?P<name>[^"]+)" match what ' + PROVIDER + " shows$"))
def accounting_match_provider(world: World, books: Books, kind: str, name: str, provider: str) -> None:
    chosen = org(world, books, name)
    fields = CONTACT_FIELDS if kind == "contacts" else chosen.provider.invoice_fields
    key_field, key_path = fields[0]
    rows = service_records(world, books.owner[name], chosen.provider, kind, integration(world, name)["id"])
    if chosen.provider.tenant_field:
        rows = [row for row in rows if row[chosen.provider.tenant_field] == chosen.tenant_id]
    stored = {str(row[key_field]): row for row in rows}
    shown = {str(_dig(record, key_path)): record for record in provider_records(world, chosen, kind)}
    assert shown, f"{provider} shows no {kind} for {name}"
    assert stored.keys() == shown.keys(), (
        f"{len(shown.keys() - stored.keys())} {kind} at {provider} are not stored, "
        f"{len(stored.keys() - shown.keys())} stored ones are not at {provider}"
    )
    for provider_id, record in shown.items():
        for stored_field, path in fields:
            expected, got = _dig(record, path), stored[provider_id][stored_field]
            assert _same(got, expected), (
                f"{kind} {provider_id}: {stored_field} is {got!r}, {provider} shows {expected!r}"
            )


@then(parsers.re(PROVIDER + r' was asked for every page of "(?P<name>[^"]+)"\'s invoices$'))
def accounting_every_page_asked(world: World, books: Books, provider: str, name: str) -> None:
    chosen = org(world, books, name)
    since, until = books.sync_window
    listed = [
        entry
        for entry in sandbox_requests(world, chosen.provider, since, chosen.provider.listing_path)
        if entry["seq"] <= until and entry["status"] == 200
    ]
    pages = math.ceil(chosen.invoices / chosen.provider.page_size)
    assert pages > 1, f"{name} fits on one page of {chosen.provider.page_size}: the scenario proves no paging"
    assert len(listed) >= pages, f"{provider} answered {len(listed)} invoice pages, {chosen.invoices} need {pages}"


@then(
    parsers.re(
        r'the latest sync log of "(?P<name>[^"]+)" records (?P<status>success|failed) with (?P<count>\d+) records$'
    )
)
def accounting_sync_log(world: World, books: Books, name: str, status: str, count: str) -> None:
    params = {"integrationId": integration(world, name)["id"], "limit": 1}
    logs = ok_json(books.owner[name].client.get("/api/integrations/logs", params=params))["logs"]
    assert logs, f"no sync log for {name}"
    log = logs[0]
    got = (log["status"], log["totalRecords"], log["syncedRecords"], log["failedRecords"])
    assert got == (status, int(count), int(count), 0), f"expected a {status} log of {count} records: {log}"
    assert log["completedAt"] is not None, f"the log was never completed: {log}"


@then(parsers.re(r'the reconnected integration of "(?P<name>[^"]+)" is the same one, connected again$'))
def accounting_same_integration(world: World, books: Books, name: str) -> None:
    shown = integration(world, name)
    assert shown["id"] == books.first_ids[name], "reconnecting made a new integration instead of renewing it"
    assert (shown["syncStatus"], shown["syncError"]) == ("IDLE", None), f"the error was not cleared: {shown}"


@then(parsers.re(r'every QuickBooks request of the sync was a query for "(?P<name>[^"]+)"\'s invoices$'))
def accounting_qbo_queries(world: World, books: Books, name: str) -> None:
    chosen = org(world, books, name)
    since, until = books.sync_window
    calls = [entry for entry in sandbox_requests(world, QUICKBOOKS, since) if entry["seq"] <= until]
    api_calls = [entry for entry in calls if QUICKBOOKS.token_path_marker not in entry["path"]]
    assert api_calls, "the sync sent QuickBooks no request"
    starts = []
    for entry in api_calls:
        assert entry["path"].endswith(f"/v3/company/{chosen.tenant_id}/query"), f"not {name}'s query endpoint: {entry}"
        query = str(entry["query"].get("query", ""))
        assert query.lower().startswith("select * from invoice"), f"not an invoice query: {query!r}"
        assert "MAXRESULTS" in query.upper(), f"the query does not page: {query!r}"
        starts.append(query.upper().split("STARTPOSITION")[1].split()[0] if "STARTPOSITION" in query.upper() else "1")
    pages = math.ceil(chosen.invoices / QUICKBOOKS.page_size)
    assert len(set(starts)) >= pages, f"{chosen.invoices} invoices need {pages} query pages, the service sent {starts}"


@then(parsers.re(r"the callback is refused with an error naming (?P<what>companyFileId|realmId)$"))
def accounting_callback_refused(world: World, what: str) -> None:
    response = world.last_response()
    assert response.status_code == 400, f"expected 400 naming {what}: {describe(response)}"
    message = response.json()["error"]["message"]
    assert what in message, f"the error does not name {what}: {message}"


@then(parsers.re(r'"(?P<user>[^"]+)" has no (?P<provider>Xero|MYOB|QuickBooks) integration$'))
def accounting_no_integration(world: World, user: str, provider: str) -> None:
    listed = ok_json(world.user(user).client.get("/api/integrations", params={"limit": 200}))["integrations"]
    kinds = [item["integrationType"] for item in listed]
    assert PROVIDERS[provider].integration_type not in kinds, f"a half-made integration was stored: {listed}"


@then(parsers.re(r'"(?P<user>[^"]+)" has (?P<count>\d+) separate QuickBooks integrations$'))
def accounting_qbo_integration_count(world: World, user: str, count: str) -> None:
    listed = ok_json(world.user(user).client.get("/api/integrations", params={"limit": 200}))["integrations"]
    mine = [item for item in listed if item["integrationType"] == "QUICKBOOKS"]
    realms = {item["customData"].get("realmId") for item in mine}
    assert (len(mine), len(realms)) == (int(count), int(count)), f"expected {count} integrations, one per realm: {mine}"


def _dig(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _same(stored: Any, shown: Any) -> bool:
    if isinstance(shown, int | float) and not isinstance(shown, bool):
        return stored is not None and Decimal(str(stored)) == Decimal(str(shown))
    return bool(stored == shown)
