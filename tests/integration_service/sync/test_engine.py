"""The sync engine over real HTTP: service process → sandbox process → PostgreSQL.

Per provider: thousands of invoices across pages stored exactly once, resync and concurrent syncs
without duplicates, incremental syncs, retries of 429 and 5xx, and true counts when a page fails.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import (
    PROVIDERS,
    QUICKBOOKS,
    XERO,
    Provider,
    default_tenant,
    fault,
    last_listing_seq,
    latest_log,
    listing_requests,
    new_tenant,
    stored,
    sync,
    tenant_choice,
    tenants,
)

pytestmark = pytest.mark.db
SQL = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


@pytest.mark.e2e  # volume: each provider's 2,500+ invoices synced twice
@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_thousands_of_invoices_are_stored_exactly_once_and_resync_adds_none(
    user: ApiUser, connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    tenant = new_tenant(sandbox_control, provider, 2500)
    expected = tenant["invoices"]
    assert expected >= 2500
    integration = connect(user, provider.slug, **tenant_choice(provider, tenant["tenant_id"]))

    first = sync(user, integration["id"])
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert result["success"] is True
    assert (result["totalRecords"], result["syncedRecords"], result["failedRecords"]) == (expected, expected, 0)
    assert stored(sql, provider, integration["id"]) == (expected, expected)
    pages = -(-expected // provider.page_size)
    # No N+1: statements grow with pages (a connection check, an upsert and the run's heartbeat each), not
    # with the thousands of records.
    assert result["sqlStatements"] <= 3 * pages + 20

    again = sync(user, integration["id"], fullResync=True)
    assert again.status_code == 200
    assert again.json()["result"]["syncedRecords"] == expected
    assert stored(sql, provider, integration["id"]) == (expected, expected)

    log = latest_log(sql, integration["id"])
    assert (log["status"], log["total_records"], log["synced_records"], log["failed_records"]) == (
        "success",
        expected,
        expected,
        0,
    )
    shown = user.client.get(f"/api/integrations/{integration['id']}").json()["integration"]
    assert shown["syncStatus"] == "SUCCESS"
    assert shown["lastSyncedAt"] is not None


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_two_syncs_at_once_one_runs_one_is_refused_and_nothing_is_duplicated(
    user: ApiUser, connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, provider.slug)
    # Slow the second page down so that the two requests certainly overlap.
    fault(sandbox_control, provider, kind="delay", delay_ms=1500, page=2, times=1)
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: sync(user, integration["id"]), range(2)))
    assert sorted(response.status_code for response in responses) == [200, 409]
    refused = next(response for response in responses if response.status_code == 409)
    assert "already running" in refused.json()["error"]["message"]
    expected = default_tenant(sandbox_control, provider)["invoices"]
    assert stored(sql, provider, integration["id"]) == (expected, expected)


def test_different_integrations_sync_in_parallel(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    xero, quickbooks = connect(user, "xero"), connect(user, "quickbooks")
    fault(sandbox_control, XERO, kind="delay", delay_ms=1000, page=2, times=1)
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda integration: sync(user, integration["id"]), [xero, quickbooks]))
    assert [response.status_code for response in responses] == [200, 200]
    assert stored(sql, XERO, xero["id"])[0] == default_tenant(sandbox_control, XERO)["invoices"]
    assert stored(sql, QUICKBOOKS, quickbooks["id"])[0] == default_tenant(sandbox_control, QUICKBOOKS)["invoices"]


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_a_later_sync_fetches_only_what_changed(
    user: ApiUser, connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    tenant = next(t for t in tenants(sandbox_control, provider).values() if not t["default"])
    integration = connect(user, provider.slug, **tenant_choice(provider, tenant["tenant_id"]))
    assert sync(user, integration["id"]).status_code == 200
    changed = sandbox_control.post(
        f"/tenants/{provider.slug}/{tenant['tenant_id']}/mutations", json={"modify": 7, "add": 5}
    )
    changed.raise_for_status()

    later = sync(user, integration["id"])
    assert later.status_code == 200
    result = later.json()["result"]
    assert 12 <= result["totalRecords"] < tenant["invoices"]  # the changes, not everything again
    total = tenant["invoices"] + 5
    assert stored(sql, provider, integration["id"]) == (total, total)
    incremental = listing_requests(sandbox_control, provider)[-1]
    asked = str(incremental["query"]) + str(incremental["headers"])
    assert any(
        marker in asked for marker in ("If-Modified-Since", "if-modified-since", "LastModified gt", "LastUpdatedTime >")
    )


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_rate_limits_and_transient_errors_mid_pagination_are_retried(
    user: ApiUser, connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, provider.slug)
    before = listing_requests(sandbox_control, provider)
    since = before[-1]["seq"] if before else 0
    fault(sandbox_control, provider, kind="rate_limit", page=2, times=1, retry_after=1)
    fault(sandbox_control, provider, kind="error", status=500, page=3, times=2)

    response = sync(user, integration["id"])
    assert response.status_code == 200, response.text
    expected = default_tenant(sandbox_control, provider)["invoices"]
    assert response.json()["result"]["syncedRecords"] == expected
    assert stored(sql, provider, integration["id"]) == (expected, expected)
    statuses = [request["status"] for request in listing_requests(sandbox_control, provider, since)]
    limited = 403 if provider.slug == "myob" else 429  # MYOB signals rate limits with 403
    assert statuses.count(limited) == 1
    assert statuses.count(500) == 2


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_a_page_that_keeps_failing_gives_partial_with_true_counts(
    user: ApiUser, connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, provider.slug)
    fault(sandbox_control, provider, kind="error", status=503, page=3, times=None)

    response = sync(user, integration["id"])
    assert response.status_code == 502
    result = response.json()["result"]
    stored_before_failure = 2 * provider.page_size
    assert result["success"] is False
    assert result["status"] == "partial"
    assert (result["totalRecords"], result["syncedRecords"]) == (stored_before_failure, stored_before_failure)
    assert "503" in result["message"]
    assert stored(sql, provider, integration["id"])[0] == stored_before_failure
    log = latest_log(sql, integration["id"])
    assert (log["status"], log["synced_records"]) == ("partial", stored_before_failure)
    assert log["completed_at"] is not None
    shown = user.client.get(f"/api/integrations/{integration['id']}").json()["integration"]
    assert shown["syncStatus"] == "ERROR"
    assert "503" in shown["syncError"]


def test_a_failure_on_the_first_page_is_failed_not_success(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, "xero")
    fault(sandbox_control, XERO, kind="error", status=500, page=1, times=None)
    response = sync(user, integration["id"])
    assert response.status_code == 502
    assert response.json()["result"]["status"] == "failed"
    assert stored(sql, XERO, integration["id"]) == (0, 0)
    assert latest_log(sql, integration["id"])["status"] == "failed"


def test_an_error_in_one_integration_leaves_another_alone(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    failing, healthy = connect(user, "xero"), connect(user, "quickbooks")
    fault(sandbox_control, XERO, kind="error", status=500, times=None)
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda integration: sync(user, integration["id"]), [failing, healthy]))
    assert [outcome.status_code for outcome in outcomes] == [502, 200]
    assert latest_log(sql, healthy["id"])["status"] == "success"
    assert latest_log(sql, failing["id"])["status"] == "failed"
    listed = {item["id"]: item for item in user.client.get("/api/integrations").json()["integrations"]}
    assert listed[healthy["id"]]["syncStatus"] == "SUCCESS"
    assert listed[failing["id"]]["syncStatus"] == "ERROR"


def test_xero_contacts_sync(user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL) -> None:
    integration = connect(user, "xero")
    response = sync(user, integration["id"], "contacts")
    assert response.status_code == 200, response.text
    expected = default_tenant(sandbox_control, XERO)["contacts"]
    assert response.json()["result"]["syncedRecords"] == expected
    row = sql.execute(
        "SELECT count(DISTINCT xero_contact_id) FROM xero_contacts WHERE integration_id = %s", [integration["id"]]
    ).fetchone()
    assert row == (expected,)
    listed = user.client.get("/api/integrations/xero/contacts", params={"integrationId": integration["id"]}).json()
    assert listed["total"] == expected


def test_a_contact_archived_at_xero_is_archived_here_by_the_next_sync(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    """Xero lists archived contacts only with includeArchived=true: the sync must ask for them."""
    integration = connect(user, "xero")
    assert sync(user, integration["id"], "contacts").status_code == 200
    first = "SELECT xero_contact_id FROM xero_contacts WHERE integration_id = %s ORDER BY 1 LIMIT 1"
    row = sql.execute(first, [integration["id"]]).fetchone()
    assert row is not None
    contact_id = str(row[0])
    contact = f"/xero/tenants/{integration['customData']['tenantId']}/contacts/{contact_id}"
    archived = sandbox_control.patch(contact, json={"archived": True})
    assert archived.status_code == 200, archived.text
    try:
        assert sync(user, integration["id"], "contacts").status_code == 200
        status = sql.execute(
            "SELECT contact_status FROM xero_contacts WHERE integration_id = %s AND xero_contact_id = %s",
            [integration["id"], contact_id],
        ).fetchone()
        assert status == ("ARCHIVED",)
    finally:  # the session's sandbox is shared: its default organisation goes back as it was
        sandbox_control.patch(contact, json={"archived": False}).raise_for_status()


def test_myob_reads_the_configured_company_file(user: ApiUser, connect: Connect, sandbox_control: httpx.Client) -> None:
    myob = next(p for p in PROVIDERS if p.slug == "myob")
    chosen = next(t for t in tenants(sandbox_control, myob).values() if not t["default"])
    integration = connect(
        user, "myob", tenant=",".join(tenants(sandbox_control, myob)), companyFileId=chosen["tenant_id"]
    )
    since = last_listing_seq(sandbox_control, myob)
    response = sync(user, integration["id"])
    assert response.json()["result"]["syncedRecords"] == chosen["invoices"]
    paths = {request["path"] for request in listing_requests(sandbox_control, myob, since)}
    assert paths
    assert all(f"/accountright/{chosen['tenant_id']}/Sale/Invoice" in path for path in paths)


def test_pointing_myob_at_another_company_file_makes_the_next_sync_a_full_one(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client
) -> None:
    myob = next(p for p in PROVIDERS if p.slug == "myob")
    files = list(tenants(sandbox_control, myob).values())
    first, second = files[0], files[1]
    integration = connect(
        user, "myob", tenant=",".join(t["tenant_id"] for t in files), companyFileId=first["tenant_id"]
    )
    assert sync(user, integration["id"]).json()["result"]["syncedRecords"] == first["invoices"]

    moved = user.client.patch(
        f"/api/integrations/{integration['id']}", json={"customData": {"companyFileId": second["tenant_id"]}}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["integration"]["lastSyncedAt"] is None
    # Not "what changed since the last sync of the first file": the second file's whole history.
    assert sync(user, integration["id"]).json()["result"]["syncedRecords"] == second["invoices"]


def test_quickbooks_pages_with_the_query_language_and_two_companies_stay_apart(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    realms = tenants(sandbox_control, QUICKBOOKS)
    first, second = (connect(user, "quickbooks", tenant=realm) for realm in list(realms)[:2])
    since = last_listing_seq(sandbox_control, QUICKBOOKS)
    for integration in (first, second):
        assert sync(user, integration["id"]).status_code == 200
    for integration in (first, second):
        realm = integration["customData"]["realmId"]
        count, distinct = stored(sql, QUICKBOOKS, integration["id"])
        assert count == distinct == realms[realm]["invoices"]
        realm_rows = sql.execute(
            "SELECT count(*) FROM quickbooks_invoices WHERE integration_id = %s AND realm_id = %s",
            [integration["id"], realm],
        ).fetchone()
        assert realm_rows == (count,)
    queries = [str(request["query"]) for request in listing_requests(sandbox_control, QUICKBOOKS, since)]
    assert queries
    assert all("STARTPOSITION" in query and "MAXRESULTS" in query for query in queries)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"integrationId": "00000000-0000-0000-0000-000000000000", "dataType": "invoices"}, 404),
        ({"integrationId": "not-a-uuid", "dataType": "invoices"}, 422),
        ({"dataType": "invoices"}, 422),
    ],
)
def test_bad_sync_requests(user: ApiUser, body: dict[str, str], status: int) -> None:
    assert user.client.post("/api/integrations/sync", json=body).status_code == status


def test_unsupported_data_type_and_disabled_integration(user: ApiUser, connect: Connect) -> None:
    integration = connect(user, "myob")
    unsupported = sync(user, integration["id"], "contacts")
    assert unsupported.status_code == 422
    assert "invoices" in unsupported.json()["error"]["message"]
    user.client.patch(f"/api/integrations/{integration['id']}", json={"isActive": False})
    disabled = sync(user, integration["id"])
    assert disabled.status_code == 409


def test_another_users_integration_cannot_be_synced(
    make_user: Callable[[], ApiUser], connect: Connect, sql: SQL
) -> None:
    owner, stranger = make_user(), make_user()
    integration = connect(owner, "xero")
    assert sync(stranger, integration["id"]).status_code == 404
    assert stored(sql, XERO, integration["id"]) == (0, 0)


@pytest.mark.parametrize(("integration_type", "data_type"), [("XERO", "invoices"), ("STRIPE", "payments")])
def test_an_integration_without_credentials_is_refused_before_any_call(
    user: ApiUser, integration_type: str, data_type: str, sql: SQL
) -> None:
    created = user.client.post(
        "/api/integrations", json={"integrationType": integration_type, "integrationName": "not yet"}
    )
    response = sync(user, created.json()["integration"]["id"], data_type)
    assert response.status_code == 409
    assert "no credentials yet" in response.json()["error"]["message"]
    logs = sql.execute(
        "SELECT count(*) FROM integrations_sync_logs WHERE integration_id = %s", [created.json()["integration"]["id"]]
    ).fetchone()
    assert logs == (0,)  # refused, not run: nothing to report as a failed sync


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_a_full_resync_rewrites_only_the_records_that_changed(
    user: ApiUser, connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    tenant = new_tenant(sandbox_control, provider, 150)
    integration = connect(user, provider.slug, **tenant_choice(provider, tenant["tenant_id"]))
    assert sync(user, integration["id"]).status_code == 200
    before = row_versions(sql, provider, integration["id"])
    changed = sandbox_control.post(f"/tenants/{provider.slug}/{tenant['tenant_id']}/mutations", json={"modify": 7})
    changed.raise_for_status()

    again = sync(user, integration["id"], fullResync=True)
    assert again.status_code == 200, again.text
    assert again.json()["result"]["syncedRecords"] == tenant["invoices"]
    after = row_versions(sql, provider, integration["id"])
    assert after.keys() == before.keys()
    # Only the seven changed invoices got a new row version; the rest were left as stored.
    assert len([key for key in before if after[key] != before[key]]) == 7


def row_versions(sql: SQL, provider: Provider, integration_id: str) -> dict[str, str]:
    """Each stored record's row version (xmin changes whenever the row is rewritten)."""
    rows = sql.execute(
        f"SELECT {provider.key}, xmin::text FROM {provider.table} WHERE integration_id = %s",  # noqa: S608
        [integration_id],
    ).fetchall()
    return {str(key): str(version) for key, version in rows}
