"""Steps of the performance items (PERF-01..PERF-06): syncs of organisations of the provider sandbox that
each scenario makes for itself, driven into pages, timeouts, rate limits and errors, and the service's
monitoring endpoint. (PERF-04's timeout settings are read by steps/code_and_docs/environment.py.)
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from harness.core.processes import ServerProcess
from harness.stack.local import sandbox_service_env
from steps.common import World, connect_account, describe
from steps.support.pre_deployment import add_sandbox_fault, stage_sql, start_service_instance

SYNC_TIMEOUT_S = 120.0


_XERO_PAGE_SIZE = 100


@dataclass
class XeroSyncs:
    """The scenario's sandbox organisations, each one's sync (answer, seconds taken) and the sandbox's request
    sequence number before it, all by the scenario's label."""

    organisations: dict[str, dict[str, Any]] = field(default_factory=dict)
    syncs: dict[str, tuple[httpx.Response, float]] = field(default_factory=dict)
    since: dict[str, int] = field(default_factory=dict)

    def tenant_id(self, label: str) -> str:
        return str(self.organisations[label]["tenant_id"])


@pytest.fixture
def xero_syncs() -> XeroSyncs:
    return XeroSyncs()


@given(parsers.parse('a Xero organisation "{label}" with {invoices:d} invoices in the provider sandbox'))
def sandbox_xero_organisation(world: World, xero_syncs: XeroSyncs, label: str, invoices: int) -> None:
    created = world.sandbox().post(
        "/tenants",
        json={"provider": "xero", "invoices": invoices, "contacts": 5, "name": f"QA {label} {uuid.uuid4().hex[:6]}"},
    )
    assert created.status_code == 201, f"the sandbox made no organisation: {describe(created)}"
    xero_syncs.organisations[label] = created.json()


@given(parsers.parse('"{name}" has connected the Xero organisation "{label}"'))
def connect_xero_organisation(world: World, xero_syncs: XeroSyncs, name: str, label: str) -> None:
    tenant = xero_syncs.tenant_id(label)
    integration = connect_account(world, world.user(name), "xero", tenant=tenant, integrationName=f"perf-{label}")
    assert integration["customData"].get("tenantId") == tenant, f"connected another organisation: {integration}"
    world.integrations[label] = integration


def _sync(world: World, xero_syncs: XeroSyncs, name: str, label: str, client: httpx.Client | None = None) -> None:
    integration_id = world.integrations[label]["id"]
    started = time.monotonic()
    response = (client or world.user(name).client).post(
        "/api/integrations/sync",
        json={"integrationId": integration_id, "dataType": "invoices", "fullResync": True},
        timeout=SYNC_TIMEOUT_S,
    )
    xero_syncs.syncs[label] = (response, time.monotonic() - started)


def _listing_requests(world: World) -> list[dict[str, Any]]:
    listed = world.sandbox().get("/requests", params={"provider": "xero", "path_contains": "/Invoices"})
    assert listed.status_code == 200, describe(listed)
    return list(listed.json())


@when(parsers.parse('"{name}" syncs the invoices of the Xero organisation "{label}"'))
def sync_organisation(world: World, xero_syncs: XeroSyncs, name: str, label: str) -> None:
    xero_syncs.since[label] = max((r["seq"] for r in _listing_requests(world)), default=0)
    _sync(world, xero_syncs, name, label)


def _sync_result(xero_syncs: XeroSyncs, label: str) -> dict[str, Any]:
    response, _ = xero_syncs.syncs[label]
    body = response.json()
    assert "result" in body, f"the sync answered no result: {describe(response)}"
    return dict(body["result"])


@then(parsers.parse('the sync of "{label}" succeeds with {count:d} invoices synced'))
def sync_succeeded(xero_syncs: XeroSyncs, label: str, count: int) -> None:
    response, _ = xero_syncs.syncs[label]
    assert response.status_code == 200, f"the sync failed: {describe(response)}"
    result = _sync_result(xero_syncs, label)
    assert (result["status"], result["syncedRecords"], result["failedRecords"]) == ("success", count, 0), result


@then(parsers.parse('{count:d} distinct invoices of "{label}" are stored for "{name}"'))
def invoices_stored(world: World, count: int, label: str, name: str) -> None:
    with stage_sql(world) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [world.integrations[label]["id"]],
        ).fetchone()
    assert row == (count, count), f"expected {count} invoices stored once each, found (rows, distinct) = {row}"


def _tenant_requests(world: World, xero_syncs: XeroSyncs, label: str) -> list[dict[str, Any]]:
    tenant = xero_syncs.tenant_id(label)
    since = xero_syncs.since.get(label, 0)
    return [
        request
        for request in _listing_requests(world)
        if request["seq"] > since and tenant in json.dumps(request.get("headers", {}))
    ]


def _page_of(request: dict[str, Any]) -> int:
    query = request.get("query") or {}
    page = query.get("page") if isinstance(query, dict) else re.search(r"page=(\d+)", str(query))
    value = page.group(1) if isinstance(page, re.Match) else page
    return int(value[0] if isinstance(value, list) else value or 1)


@then(parsers.parse('the provider sandbox served the invoices of "{label}" in {pages:d} pages'))
def served_in_pages(world: World, xero_syncs: XeroSyncs, label: str, pages: int) -> None:
    served = sorted({_page_of(r) for r in _tenant_requests(world, xero_syncs, label) if r["status"] == 200})
    assert served == list(range(1, pages + 1)), f"expected pages 1..{pages} to be read, the sandbox served {served}"


@then(
    parsers.parse(
        'the sync of "{large}" issued at most {per_page:d} more SQL statements per extra page '
        'than the sync of "{small}"'
    )
)
def statements_grow_with_pages(xero_syncs: XeroSyncs, large: str, per_page: int, small: str) -> None:
    big, little = _sync_result(xero_syncs, large), _sync_result(xero_syncs, small)
    extra_pages = -(-big["syncedRecords"] // _XERO_PAGE_SIZE) - -(-little["syncedRecords"] // _XERO_PAGE_SIZE)
    growth = big["sqlStatements"] - little["sqlStatements"]
    assert extra_pages > 0, "the two organisations need different numbers of pages for this comparison"
    assert growth <= per_page * extra_pages, (
        f"{extra_pages} more pages cost {growth} more SQL statements ({little['sqlStatements']} → "
        f"{big['sqlStatements']}): statements grow with the records, not the pages"
    )


@then(parsers.parse('the sync of "{label}" issued fewer SQL statements than one per {records:d} invoices'))
def statements_below_records(xero_syncs: XeroSyncs, label: str, records: int) -> None:
    result = _sync_result(xero_syncs, label)
    assert 0 < result["sqlStatements"] < result["syncedRecords"] / records, (
        f"{result['sqlStatements']} SQL statements for {result['syncedRecords']} invoices: an N+1 pattern"
    )


@given(
    parsers.parse("a second service instance whose provider read timeout is {seconds:d} second"),
    target_fixture="second_instance",
)
def second_service_instance(world: World, request: pytest.FixtureRequest, seconds: int) -> ServerProcess:
    if world.target.sandbox_url is None:
        pytest.fail("this scenario needs the provider sandbox, which only the local stage has")
    settings = {
        **sandbox_service_env(world.target.sandbox_url),
        "HTTP_READ_TIMEOUT_S": str(seconds),
        "HTTP_RETRY_ATTEMPTS": "3",
        "HTTP_RETRY_INITIAL_WAIT_S": "0.05",
        "HTTP_RETRY_BACKOFF_MAX_S": "0.5",
    }
    return start_service_instance(world, request, settings)


@given(parsers.parse("the provider sandbox holds every Xero invoices request for {seconds:d} seconds"))
def hold_invoices(world: World, request: pytest.FixtureRequest, seconds: int) -> None:
    rule = {"provider": "xero", "kind": "delay", "path": "/Invoices", "delay_ms": seconds * 1000, "times": None}
    add_sandbox_fault(world, request, rule)


@when(
    parsers.parse('"{name}" syncs the invoices of the Xero organisation "{label}" through the second service instance')
)
def sync_through_instance(
    world: World, xero_syncs: XeroSyncs, second_instance: ServerProcess, name: str, label: str
) -> None:
    headers = {"Authorization": f"Bearer {world.user(name).token}"}
    _sync(world, xero_syncs, name, label, world.client(base_url=second_instance.url, headers=headers))


@then(parsers.parse('the sync of "{label}" fails with status {status:d} within {seconds:d} seconds'))
def sync_failed_in_time(xero_syncs: XeroSyncs, label: str, status: int, seconds: int) -> None:
    response, took = xero_syncs.syncs[label]
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    assert took <= seconds, f"the sync took {took:.1f} s to give up (bound {seconds} s)"


@then(parsers.parse('the sync of "{label}" reports that the provider timed out'))
def sync_reports_timeout(xero_syncs: XeroSyncs, label: str) -> None:
    result = _sync_result(xero_syncs, label)
    said = " ".join([result["message"], *result["errors"]])
    assert "Timeout" in said, f"the sync does not say the provider timed out: {said!r}"


@then(parsers.parse('the latest sync log of "{label}" records the failure'))
def sync_log_failure(world: World, label: str) -> None:
    with stage_sql(world) as connection:
        row = connection.execute(
            "SELECT status, completed_at, error_message FROM integrations_sync_logs WHERE integration_id = %s "
            "ORDER BY created_at DESC LIMIT 1",
            [world.integrations[label]["id"]],
        ).fetchone()
    assert row is not None, "the sync wrote no log"
    status, completed, message = row
    assert (status, completed is not None) == ("failed", True), f"the log says {row}"
    assert message, "the failed sync's log gives no error message"


@given(
    parsers.parse(
        "the provider sandbox answers the next Xero invoices request for page {page:d} "
        "with a rate limit of Retry-After {seconds:d} second"
    )
)
def rate_limit_once(world: World, request: pytest.FixtureRequest, page: int, seconds: int) -> None:
    rule = {"provider": "xero", "kind": "rate_limit", "path": "/Invoices", "page": page, "times": 1}
    add_sandbox_fault(world, request, {**rule, "retry_after": seconds})


@given(
    parsers.parse("the provider sandbox answers the next Xero invoices request for page {page:d} with HTTP {status:d}")
)
def error_once(world: World, request: pytest.FixtureRequest, page: int, status: int) -> None:
    rule = {"provider": "xero", "kind": "error", "path": "/Invoices", "page": page, "status": status, "times": 1}
    add_sandbox_fault(world, request, rule)


@given(parsers.parse("the provider sandbox answers every Xero invoices request for page {page:d} with HTTP {status:d}"))
def error_always(world: World, request: pytest.FixtureRequest, page: int, status: int) -> None:
    rule = {"provider": "xero", "kind": "error", "path": "/Invoices", "page": page, "status": status, "times": None}
    add_sandbox_fault(world, request, rule)


@then(
    parsers.parse(
        'the provider sandbox answered the invoices of "{label}" with 429 once and 503 once, each retried successfully'
    )
)
def retried_successfully(world: World, xero_syncs: XeroSyncs, label: str) -> None:
    requests = _tenant_requests(world, xero_syncs, label)
    by_page: dict[int, list[int]] = {}
    for request in requests:
        by_page.setdefault(_page_of(request), []).append(request["status"])
    assert by_page.get(2) == [429, 200], f"page 2 answers, in order: {by_page.get(2)} (expected 429 then 200)"
    assert by_page.get(3) == [503, 200], f"page 3 answers, in order: {by_page.get(3)} (expected 503 then 200)"


@then(parsers.parse('the sync of "{label}" fails with status {status:d} as partial with {count:d} invoices synced'))
def sync_partial(xero_syncs: XeroSyncs, label: str, status: int, count: int) -> None:
    response, _ = xero_syncs.syncs[label]
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    result = _sync_result(xero_syncs, label)
    assert (result["status"], result["syncedRecords"]) == ("partial", count), result
    assert any("503" in error for error in result["errors"]), f"the errors do not name the 503: {result['errors']}"


@then(
    parsers.parse(
        'the provider sandbox was asked for page {page:d} of "{label}" more than once and at most {most:d} times'
    )
)
def bounded_retries(world: World, xero_syncs: XeroSyncs, page: int, label: str, most: int) -> None:
    asked = [r["status"] for r in _tenant_requests(world, xero_syncs, label) if _page_of(r) == page]
    assert 1 < len(asked) <= most, f"page {page} was asked {len(asked)} times ({asked}): expected retries, bounded"


@when("the monitoring endpoint of the stage's service is read")
def read_metrics(world: World) -> None:
    world.response = world.client().get("/metrics")


def _metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, flags=re.MULTILINE)
    return None if found is None else float(found.group(1))


@then("it reports the service process's resident memory")
def metrics_report_memory(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"no metrics: {describe(response)}"
    resident = _metric(response.text, "process_resident_memory_bytes")
    assert resident is not None, "/metrics does not expose process_resident_memory_bytes"
    assert resident > 10 * 2**20, f"a resident memory of {resident:.0f} bytes is not a running service's"


@then("it reports the database connections in use and the pool's size")
def metrics_report_pool(world: World) -> None:
    text = world.last_response().text
    in_use, size = _metric(text, "integration_db_pool_in_use"), _metric(text, "integration_db_pool_size")
    assert in_use is not None, "/metrics does not expose the connections in use"
    assert size is not None, "/metrics does not expose the pool's size"
    assert size >= 1, f"a pool of {size} connections"
    assert 0 <= in_use <= size, f"pool figures make no sense: {in_use} in use of {size}"
