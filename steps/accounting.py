"""Steps of the accounting scenarios: Xero, MYOB and QuickBooks Online against the provider sandbox.

Every scenario makes its own organisation / company file / company at the sandbox (so the tokens,
requests and records it looks at are its own), connects it through the real OAuth flow, and judges
the service by what it answers, what it stored (read back through the service's read routes) and
what the provider saw (the sandbox's request log and token grants). "What the provider shows" is read
straight from the sandbox's provider API with a QA app of the scenario's own, so the comparison does
not trust the service.
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from pytest_bdd import given, parsers, then, when

from harness.stack.oauth import start_in_browser
from steps.common import ApiUser, World, connect_account, describe

PROVIDER = r"(?P<provider>Xero|MYOB|QuickBooks)"
READER_REDIRECT = "http://127.0.0.1/qa-provider-view"  # never visited: the code is read off the redirect


@dataclass(frozen=True)
class Accounting:
    """What the steps need to know about one accounting provider."""

    slug: str
    integration_type: str
    authorize_path: str  # under the sandbox URL
    token_path: str
    scope: str
    linked_key: str  # the customData key naming the connected organisation / file / realm
    choice_param: str | None  # the connect route's query parameter that picks among several
    page_size: int  # records per page as the service asks for them
    listing_path: str  # substring of the invoice listing's path, for the request log
    token_path_marker: str  # substring of the token endpoint's path, for the request log
    invoice_id: str  # the provider id's field in the service's read route
    tenant_field: str | None  # the read route's field naming the file / realm, where records carry one
    invoice_fields: tuple[tuple[str, tuple[str, ...]], ...]  # read-route field -> path in the provider's invoice


XERO = Accounting(
    "xero",
    "XERO",
    "/xero/login/identity/connect/authorize",
    "/xero/identity/connect/token",
    "openid profile email accounting.transactions.read accounting.contacts.read offline_access",
    "tenantId",
    "tenantId",
    100,
    "/api.xro/2.0/Invoices",
    "/connect/token",
    "xeroInvoiceId",
    None,
    (
        ("xeroInvoiceId", ("InvoiceID",)),
        ("invoiceNumber", ("InvoiceNumber",)),
        ("status", ("Status",)),
        ("contactName", ("Contact", "Name")),
        ("currencyCode", ("CurrencyCode",)),
        ("subTotal", ("SubTotal",)),
        ("totalTax", ("TotalTax",)),
        ("total", ("Total",)),
        ("amountDue", ("AmountDue",)),
        ("amountPaid", ("AmountPaid",)),
    ),
)
MYOB = Accounting(
    "myob",
    "MYOB",
    "/myob/secure/oauth2/account/authorize",
    "/myob/secure/oauth2/v1/authorize",
    "CompanyFile",
    "companyFileId",
    "companyFileId",
    400,
    "/Sale/Invoice",
    "/oauth2/v1/authorize",
    "myobInvoiceUid",
    "companyFileId",
    (
        ("myobInvoiceUid", ("UID",)),
        ("invoiceNumber", ("Number",)),
        ("status", ("Status",)),
        ("customerName", ("Customer", "Name")),
        ("subtotal", ("Subtotal",)),
        ("totalTax", ("TotalTax",)),
        ("totalAmount", ("TotalAmount",)),
        ("balanceDueAmount", ("BalanceDueAmount",)),
    ),
)
QUICKBOOKS = Accounting(
    "quickbooks",
    "QUICKBOOKS",
    "/quickbooks/appcenter/connect/oauth2",
    "/quickbooks/oauth/oauth2/v1/tokens/bearer",
    "com.intuit.quickbooks.accounting",
    "realmId",
    None,
    500,
    "/query",
    "/tokens/bearer",
    "quickbooksInvoiceId",
    "realmId",
    (
        ("quickbooksInvoiceId", ("Id",)),
        ("docNumber", ("DocNumber",)),
        ("customerName", ("CustomerRef", "name")),
        ("totalAmount", ("TotalAmt",)),
        ("balance", ("Balance",)),
    ),
)
PROVIDERS = {"Xero": XERO, "MYOB": MYOB, "QuickBooks": QUICKBOOKS}
CONTACT_FIELDS = (
    ("xeroContactId", ("ContactID",)),
    ("name", ("Name",)),
    ("emailAddress", ("EmailAddress",)),
    ("contactStatus", ("ContactStatus",)),
)


@dataclass
class Org:
    """An organisation (Xero), company file (MYOB) or company (QuickBooks) made at the sandbox."""

    provider: Accounting
    tenant_id: str
    name: str
    invoices: int
    contacts: int


@dataclass
class Books:
    """The accounting scenario's state, kept in `world.facts["books"]`."""

    orgs: dict[str, Org] = field(default_factory=dict)
    owner: dict[str, ApiUser] = field(default_factory=dict)  # who connected each org's integration
    first_ids: dict[str, str] = field(default_factory=dict)  # integration id of an org's first connection
    sync_window: tuple[int, int] = (0, 0)  # sandbox request seqs around the last sync
    refresh_before: dict[str, str | None] = field(default_factory=dict)  # grant id -> current refresh sha256
    mark: int = 0  # sandbox request seq when the last provider-side event happened


def books(world: World) -> Books:
    found = world.facts.setdefault("books", Books())
    assert isinstance(found, Books)
    return found


def org(world: World, name: str) -> Org:
    assert name in books(world).orgs, f'no organisation "{name}" was made in this scenario'
    return books(world).orgs[name]


def integration(world: World, name: str) -> dict[str, Any]:
    assert name in world.integrations, f'"{name}" was not connected in this scenario'
    return world.integrations[name]


def ok_json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    return response.json()


# --- the sandbox: request log, grants, the provider's own view ------------------------------------


def sandbox_requests(world: World, provider: Accounting, since: int, path: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"provider": provider.slug, "since_seq": since}
    if path:
        params["path_contains"] = path
    return list(ok_json(world.sandbox().get("/requests", params=params)))


def last_seq(world: World, provider: Accounting) -> int:
    known = books(world).mark
    return max((entry["seq"] for entry in sandbox_requests(world, provider, known)), default=known)


def service_grants(world: World, chosen: Org) -> list[dict[str, Any]]:
    """The consents the service holds for the org (the QA reader's own are left out)."""
    grants = ok_json(world.sandbox().get("/tokens", params={"provider": chosen.provider.slug}))
    return [
        grant
        for grant in grants
        if chosen.tenant_id in grant["tenant_ids"] and not grant["client_id"].startswith("qa-reader-")
    ]


def provider_token(world: World, chosen: Org) -> tuple[str, str]:
    """(client id, access token) of a QA app the scenario registers and consents for `chosen` itself."""
    provider = chosen.provider
    client_id, secret = f"qa-reader-{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(24)
    registered = world.sandbox().post(
        "/clients",
        json={
            "provider": provider.slug,
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": [READER_REDIRECT],
            "app_name": "QA provider view",
        },
    )
    ok_json(registered, 201)
    sandbox = world.client(base_url=world.sandbox_url())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": READER_REDIRECT,
        "scope": provider.scope,
        "state": secrets.token_urlsafe(8),
        "sandbox_tenant": chosen.tenant_id,
    }
    consent = sandbox.get(f"{provider.authorize_path}?{urlencode(query)}")
    assert consent.status_code == 302, f"the QA app's consent: {describe(consent)}"
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": READER_REDIRECT}
    tokens = ok_json(sandbox.post(provider.token_path, data=form, auth=(client_id, secret)))
    return client_id, str(tokens["access_token"])


def provider_records(world: World, chosen: Org, kind: str) -> list[dict[str, Any]]:
    """Every invoice (or Xero contact) of `chosen`, as the provider's API shows it."""
    client_id, token = provider_token(world, chosen)
    base = f"{world.sandbox_url()}/{chosen.provider.slug}/api"
    api = world.client(base_url=base, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    found: list[dict[str, Any]] = []
    if chosen.provider is XERO:
        endpoint = "Contacts" if kind == "contacts" else "Invoices"
        page: list[dict[str, Any]] = [{}]
        while page:
            params = {"page": len(found) // 1000 + 1, "pageSize": 1000}
            answer = api.get(f"/api.xro/2.0/{endpoint}", params=params, headers={"xero-tenant-id": chosen.tenant_id})
            page = ok_json(answer)[endpoint]
            found += page
            page = page if len(page) == 1000 else []
    elif chosen.provider is MYOB:
        headers = {"x-myobapi-key": client_id, "x-myobapi-version": "v2"}
        url: str | None = f"{base}/accountright/{chosen.tenant_id}/Sale/Invoice?$top=1000"
        while url:
            body = ok_json(api.get(url, headers=headers))
            found += body["Items"]
            url = body["NextPageLink"]
    else:
        while True:
            query = f"select * from Invoice STARTPOSITION {len(found) + 1} MAXRESULTS 1000"  # noqa: S608 - no SQL
            body = ok_json(api.get(f"/v3/company/{chosen.tenant_id}/query", params={"query": query}))
            batch = body["QueryResponse"].get("Invoice", [])
            found += batch
            if len(batch) < 1000:
                break
    return found


def service_records(world: World, user: ApiUser, provider: Accounting, kind: str, integration_id: str) -> list[Any]:
    """Every record the service stored for the integration, read page by page through its read route."""
    rows: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {"integrationId": integration_id, "limit": 500, "offset": len(rows)}
        body = ok_json(user.client.get(f"/api/integrations/{provider.slug}/{kind}", params=params))
        rows += body[kind]
        if not body[kind] or len(rows) >= body["total"]:
            assert len(rows) == body["total"], f"the read route's total {body['total']} differs from {len(rows)} rows"
            return rows


def _dig(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _same(stored: Any, shown: Any) -> bool:
    if isinstance(shown, int | float) and not isinstance(shown, bool):
        return stored is not None and Decimal(str(stored)) == Decimal(str(shown))
    return bool(stored == shown)


# --- given / when: organisations, connections, syncs, provider-side events ------------------------


@given(
    parsers.re(
        PROVIDER
        + r' has an? (?:organisation|company file|company) "(?P<name>[^"]+)"'
        + r" with (?P<invoices>\d+) invoices(?: and (?P<contacts>\d+) contacts)?$"
    )
)
def accounting_org_at_provider(world: World, name: str, provider: str, invoices: str, contacts: str | None) -> None:
    chosen = PROVIDERS[provider]
    body = {"provider": chosen.slug, "name": name, "invoices": int(invoices), "contacts": int(contacts or 10)}
    made = ok_json(world.sandbox().post("/tenants", json=body), 201)
    books(world).orgs[name] = Org(chosen, made["tenant_id"], name, made["invoices"], made["contacts"])


@given(parsers.re(r'"(?P<user>[^"]+)" has connected ' + PROVIDER + r' to "(?P<name>[^"]+)"$'))
@when(parsers.re(r'"(?P<user>[^"]+)" connects ' + PROVIDER + r' to "(?P<name>[^"]+)" through its consent page$'))
def accounting_connect(world: World, user: str, provider: str, name: str) -> None:
    chosen = org(world, name)
    assert chosen.provider is PROVIDERS[provider], f'"{name}" is not a {provider} organisation'
    choice = {chosen.provider.choice_param: chosen.tenant_id} if chosen.provider.choice_param else {}
    _connect(world, user, name, chosen.tenant_id, choice)


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" connects MYOB to "(?P<name>[^"]+)" on a consent covering "(?P<first>[^"]+)"'
        r' and "(?P<second>[^"]+)"$'
    )
)
def accounting_connect_one_of_two_files(world: World, user: str, name: str, first: str, second: str) -> None:
    covered = f"{org(world, first).tenant_id},{org(world, second).tenant_id}"
    _connect(world, user, name, covered, {"companyFileId": org(world, name).tenant_id})


def _connect(world: World, user: str, name: str, covered: str, choice: dict[str, str]) -> None:
    connected = connect_account(world, world.user(user), org(world, name).provider.slug, covered, **choice)
    world.integrations[name] = connected
    books(world).owner[name] = world.user(user)
    books(world).first_ids.setdefault(name, connected["id"])


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" connects MYOB without choosing a company file, on a consent covering '
        r'"(?P<first>[^"]+)" and "(?P<second>[^"]+)"$'
    )
)
def accounting_connect_without_choice(world: World, user: str, first: str, second: str) -> None:
    covered = f"{org(world, first).tenant_id},{org(world, second).tenant_id}"
    world.response = _walk_consent(world, world.user(user), MYOB, covered, drop=None)


@when(
    parsers.re(r'"(?P<user>[^"]+)" connects QuickBooks to "(?P<name>[^"]+)" but the redirect back loses the realmId$')
)
def accounting_connect_losing_realm(world: World, user: str, name: str) -> None:
    world.response = _walk_consent(world, world.user(user), QUICKBOOKS, org(world, name).tenant_id, drop="realmId")


def _walk_consent(world: World, user: ApiUser, provider: Accounting, covered: str, drop: str | None) -> httpx.Response:
    """The OAuth flow by hand, for the callbacks that must fail: optionally losing a query parameter."""
    browser = world.client(base_url="")
    started = start_in_browser(user.client, browser, provider.slug)
    consent = browser.get(started.headers["Location"] + "&" + urlencode({"sandbox_tenant": covered}))
    assert consent.status_code == 302, describe(consent)
    back = urlsplit(consent.headers["Location"])
    query = {key: values[0] for key, values in parse_qs(back.query).items() if key != drop}
    return browser.get(back._replace(query=urlencode(query)).geturl())


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" syncs the (?P<kind>invoices|contacts) of "(?P<name>[^"]+)"'
        r"(?P<again> again)?(?P<full>, asking for a full resync)?$"
    )
)
def accounting_sync(world: World, user: str, kind: str, name: str, again: str | None, full: str | None) -> None:
    provider = org(world, name).provider
    before = last_seq(world, provider)
    body = {"integrationId": integration(world, name)["id"], "dataType": kind, "fullResync": bool(full)}
    world.response = world.user(user).client.post("/api/integrations/sync", json=body)
    assert world.response.status_code != 500, f"a sync must never answer 500: {describe(world.response)}"
    books(world).sync_window = (before, last_seq(world, provider))
    books(world).mark = books(world).sync_window[1]


@when(parsers.re(PROVIDER + r" expires the access tokens it issued(?: again)?$"))
def accounting_expire_tokens(world: World, provider: str) -> None:
    # The service's tokens are only in its database, encrypted: the sandbox expires those of the
    # scenario's own organisations (a stage's other consents are left alone).
    chosen = PROVIDERS[provider]
    mine = [o for o in books(world).orgs.values() if o.provider is chosen and o.name in world.integrations]
    expire = [
        world.sandbox().post("/tokens/expire", json={"provider": chosen.slug, "tenant_id": o.tenant_id}) for o in mine
    ]
    assert sum(ok_json(answer)["expired"] for answer in expire) > 0, f"{provider} had no access token to expire"
    for chosen_org in mine:
        for grant in service_grants(world, chosen_org):
            assert all(token["expired"] for token in grant["access_tokens"]), f"a live token is left: {grant}"
            books(world).refresh_before[grant["grant_id"]] = grant["current_refresh_sha256"]
    books(world).mark = last_seq(world, chosen)


@when(parsers.re(PROVIDER + r' revokes the connection to "(?P<name>[^"]+)"$'))
def accounting_revoke_connection(world: World, provider: str, name: str) -> None:
    chosen = org(world, name)
    scope = {"provider": PROVIDERS[provider].slug, "tenant_id": chosen.tenant_id}  # the scenario's own consents
    revoked = ok_json(world.sandbox().post("/tokens/revoke", json=scope))
    assert revoked["revoked_grants"] > 0, f"{provider} had no grant to revoke"
    for grant in service_grants(world, chosen):
        assert all(token["revoked"] for token in grant["access_tokens"]), f"a live token is left: {grant}"


@when(parsers.re(r'"(?P<user>[^"]+)" replaces the stored tokens of "(?P<name>[^"]+)" with invalid ones$'))
def accounting_invalid_tokens(world: World, user: str, name: str) -> None:
    bogus = {"accessToken": "qa-not-a-token-" + uuid.uuid4().hex, "refreshToken": "qa-not-a-token-" + uuid.uuid4().hex}
    ok_json(world.user(user).client.patch(f"/api/integrations/{integration(world, name)['id']}", json=bogus))


@when(parsers.re(r'"(?P<user>[^"]+)" points the MYOB integration of "(?P<name>[^"]+)" at "(?P<other>[^"]+)"$'))
def accounting_change_company_file(world: World, user: str, name: str, other: str) -> None:
    target = org(world, other)
    custom = {"companyFileId": target.tenant_id, "companyFileName": target.name}
    changed = world.user(user).client.patch(
        f"/api/integrations/{integration(world, name)['id']}", json={"customData": custom}
    )
    world.integrations[other] = ok_json(changed)["integration"]
    books(world).owner[other] = world.user(user)


@when(parsers.re(PROVIDER + r' changes (?P<count>\d+) invoices of "(?P<name>[^"]+)"$'))
def accounting_provider_changes_invoices(world: World, provider: str, count: str, name: str) -> None:
    chosen = org(world, name)
    path = f"/tenants/{PROVIDERS[provider].slug}/{chosen.tenant_id}/mutations"
    changed = ok_json(world.sandbox().post(path, json={"modify": int(count)}))
    assert len(changed["modified_ids"]) == int(count), f"the sandbox changed {changed['modified_ids']}"


# --- then ------------------------------------------------------------------------------------------


@then(parsers.re(r'the integration of "(?P<name>[^"]+)" is linked to it, holding tokens it never shows$'))
def accounting_linked(world: World, name: str) -> None:
    chosen, shown = org(world, name), integration(world, name)
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
    listed = ok_json(books(world).owner[name].client.get("/api/integrations", params={"limit": 200}))
    assert shown["id"] in {item["id"] for item in listed["integrations"]}, "the integration is not in the user's list"


@then(parsers.re(PROVIDER + r' holds a live consent for "(?P<name>[^"]+)" given to the service$'))
def accounting_live_grant(world: World, provider: str, name: str) -> None:
    grants = service_grants(world, org(world, name))
    assert len(grants) == 1, f"expected one consent for {name} at {provider}, found {len(grants)}"
    grant = grants[0]
    assert grant["current_refresh_sha256"], f"the consent has no live refresh token: {grant}"
    assert any(not token["expired"] and not token["revoked"] for token in grant["access_tokens"]), grant


@then(parsers.re(r'the connection test of "(?P<name>[^"]+)" (?P<outcome>succeeds|fails)$'))
def accounting_connection_test(world: World, name: str, outcome: str) -> None:
    tested = books(world).owner[name].client.post(f"/api/integrations/{integration(world, name)['id']}/test")
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
def accounting_needs_reconnection(world: World, name: str) -> None:
    user = books(world).owner[name]
    shown = ok_json(user.client.get(f"/api/integrations/{integration(world, name)['id']}"))["integration"]
    assert shown["syncStatus"] == "ERROR", f"expected syncStatus ERROR: {shown}"
    assert "reconnect" in (shown["syncError"] or "").lower(), f"syncError should say to reconnect: {shown}"


@then(parsers.re(r'the integration of "(?P<name>[^"]+)" is healthy after its sync$'))
def accounting_integration_healthy(world: World, name: str) -> None:
    user = books(world).owner[name]
    shown = ok_json(user.client.get(f"/api/integrations/{integration(world, name)['id']}"))["integration"]
    assert (shown["syncStatus"], shown["syncError"]) == ("SUCCESS", None), f"expected a healthy integration: {shown}"
    assert shown["lastSyncedAt"] is not None, f"lastSyncedAt was not set: {shown}"


@then(parsers.re(r'the service tried at most one token refresh for "(?P<name>[^"]+)" and then stopped$'))
def accounting_no_refresh_loop(world: World, name: str) -> None:
    chosen = org(world, name).provider
    since, until = books(world).sync_window
    calls = [entry for entry in sandbox_requests(world, chosen, since) if entry["seq"] <= until]
    refreshes = [entry for entry in calls if chosen.token_path_marker in entry["path"] and entry["method"] == "POST"]
    listings = [entry for entry in calls if chosen.listing_path in entry["path"]]
    assert len(refreshes) <= 1, f"the service refreshed {len(refreshes)} times: it must not retry a refused refresh"
    assert len(listings) <= 2, f"the service asked for {len(listings)} invoice pages with a dead connection"


@then(parsers.re(r'the service refreshed the tokens of "(?P<name>[^"]+)" once and ' + PROVIDER + r" rotated them$"))
def accounting_refreshed_once(world: World, name: str, provider: str) -> None:
    chosen = org(world, name)
    since, until = books(world).sync_window
    calls = [entry for entry in sandbox_requests(world, chosen.provider, since) if entry["seq"] <= until]
    refreshes = [e for e in calls if chosen.provider.token_path_marker in e["path"] and e["method"] == "POST"]
    assert [entry["status"] for entry in refreshes] == [200], f"expected one successful refresh: {refreshes}"
    (grant,) = service_grants(world, chosen)
    before = books(world).refresh_before.get(grant["grant_id"])
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
def accounting_read_back(world: World, user: str, count: str, provider: str, kind: str, name: str) -> None:
    chosen = org(world, name)
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
    world: World, name: str, first_count: str, first: str, second_count: str, second: str
) -> None:
    rows = service_records(world, books(world).owner[name], MYOB, "invoices", integration(world, name)["id"])
    by_file = {org(world, label).tenant_id: label for label in (first, second)}
    counted = dict.fromkeys((first, second), 0)
    for row in rows:
        assert row["companyFileId"] in by_file, f"an invoice of an unknown company file: {row['companyFileId']}"
        counted[by_file[row["companyFileId"]]] += 1
    assert counted == {first: int(first_count), second: int(second_count)}, f"invoices per company file: {counted}"


@then(parsers.re(r'the stored (?P<kind>invoices|contacts) of "(?P<name>[^"]+)" match what ' + PROVIDER + " shows$"))
def accounting_match_provider(world: World, kind: str, name: str, provider: str) -> None:
    chosen = org(world, name)
    fields = CONTACT_FIELDS if kind == "contacts" else chosen.provider.invoice_fields
    key_field, key_path = fields[0]
    rows = service_records(world, books(world).owner[name], chosen.provider, kind, integration(world, name)["id"])
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
def accounting_every_page_asked(world: World, provider: str, name: str) -> None:
    chosen = org(world, name)
    since, until = books(world).sync_window
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
def accounting_sync_log(world: World, name: str, status: str, count: str) -> None:
    params = {"integrationId": integration(world, name)["id"], "limit": 1}
    logs = ok_json(books(world).owner[name].client.get("/api/integrations/logs", params=params))["logs"]
    assert logs, f"no sync log for {name}"
    log = logs[0]
    got = (log["status"], log["totalRecords"], log["syncedRecords"], log["failedRecords"])
    assert got == (status, int(count), int(count), 0), f"expected a {status} log of {count} records: {log}"
    assert log["completedAt"] is not None, f"the log was never completed: {log}"


@then(parsers.re(r'the reconnected integration of "(?P<name>[^"]+)" is the same one, connected again$'))
def accounting_same_integration(world: World, name: str) -> None:
    shown = integration(world, name)
    assert shown["id"] == books(world).first_ids[name], "reconnecting made a new integration instead of renewing it"
    assert (shown["syncStatus"], shown["syncError"]) == ("IDLE", None), f"the error was not cleared: {shown}"


@then(parsers.re(r'every QuickBooks request of the sync was a query for "(?P<name>[^"]+)"\'s invoices$'))
def accounting_qbo_queries(world: World, name: str) -> None:
    chosen = org(world, name)
    since, until = books(world).sync_window
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
