"""A sync whose process dies or hangs is closed as `failed` with an `interrupted:` reason (contract C7).

Real service processes: one is killed with SIGKILL (or frozen with SIGSTOP) in the middle of a sync,
and another one, started on the same database, finds the run by its startup sweep (or its heartbeat
timeout) and tells the truth about it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness.core.processes import ServerProcess
from harness.stack.local import sandbox_service_env
from tests.fixtures.connections import Connect
from tests.fixtures.service import FAST_RETRIES, ApiUser
from tests.integration_service.accounting import XERO, fault, stored
from tests.integration_service.sync.races import (
    SQL,
    integration_row,
    new_xero_org,
    newest_run,
    wait_for,
    wait_until_running,
)

pytestmark = pytest.mark.db
StartService = Callable[..., ServerProcess]


@pytest.fixture
def start_service(service_factory: StartService, sandbox: ServerProcess) -> StartService:
    """Another service process on the session's database and sandbox."""

    def start(**settings: str) -> ServerProcess:
        return service_factory(**sandbox_service_env(sandbox.url), **FAST_RETRIES, **settings)

    return start


@pytest.fixture
def client_to() -> Iterator[Callable[[ServerProcess, ApiUser], httpx.Client]]:
    """A user's client to one given service process (closed after the test)."""
    clients: list[httpx.Client] = []

    def client(process: ServerProcess, user: ApiUser) -> httpx.Client:
        made = httpx.Client(base_url=process.url, headers={"Authorization": f"Bearer {user.token}"}, timeout=60)
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


def _sync(client: httpx.Client, integration_id: str) -> httpx.Response:
    return client.post("/api/integrations/sync", json={"integrationId": integration_id, "dataType": "invoices"})


def _interrupted(sql: SQL, integration_id: str) -> dict[str, object] | None:
    run = newest_run(sql, integration_id)
    return run if run and run["status"] == "failed" else None


def test_a_sync_killed_with_its_service_is_closed_as_interrupted_when_the_service_starts_again(
    start_service: StartService,
    make_user: Callable[[], ApiUser],
    client_to: Callable[[ServerProcess, ApiUser], httpx.Client],
    connect: Connect,
    sandbox_control: httpx.Client,
    sql: SQL,
) -> None:
    org = new_xero_org(sandbox_control, 300)
    user = make_user()
    integration = connect(user, "xero", tenant=org, tenantId=org)
    doomed = start_service()
    fault(sandbox_control, XERO, kind="delay", delay_ms=30_000, page=2, times=1)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(_sync, client_to(doomed, user), integration["id"])
        wait_until_running(sql, integration["id"], synced_at_least=100)
        assert doomed.process is not None
        os.killpg(doomed.process.pid, signal.SIGKILL)
        with pytest.raises(httpx.TransportError):
            answer.result()
    sandbox_control.delete("/faults").raise_for_status()
    left = newest_run(sql, integration["id"])
    assert left is not None
    assert left["status"] == "running"

    restarted = start_service()  # its startup sweep runs before it serves
    run = newest_run(sql, integration["id"])
    assert run is not None
    assert run["status"] == "failed", run
    assert run["completed_at"] is not None
    assert str(run["error_message"]).startswith("interrupted:"), run
    assert run["synced_records"] == 100  # what the dead run had stored, as stored
    shown = integration_row(sql, integration["id"])
    assert shown is not None
    assert shown["sync_status"] == "ERROR"
    assert "interrupted" in shown["sync_error"]

    again = _sync(client_to(restarted, user), integration["id"])
    assert again.status_code == 200, again.text
    assert stored(sql, XERO, integration["id"]) == (300, 300)


def test_a_hung_sync_is_closed_by_the_heartbeat_timeout_and_cannot_overwrite_the_verdict(
    start_service: StartService,
    make_user: Callable[[], ApiUser],
    client_to: Callable[[ServerProcess, ApiUser], httpx.Client],
    connect: Connect,
    sandbox_control: httpx.Client,
    sql: SQL,
) -> None:
    org = new_xero_org(sandbox_control, 300)
    user = make_user()
    integration = connect(user, "xero", tenant=org, tenantId=org)
    hung = start_service()
    fault(sandbox_control, XERO, kind="delay", delay_ms=2000, page=2, times=1)
    assert hung.process is not None
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(_sync, client_to(hung, user), integration["id"])
        wait_until_running(sql, integration["id"], synced_at_least=100)
        os.killpg(hung.process.pid, signal.SIGSTOP)  # alive, holding its lock, making no progress
        try:
            start_service(SYNC_STALE_AFTER_S="2")
            closed = wait_for("the stale run to be closed", lambda: _interrupted(sql, integration["id"]))
        finally:
            os.killpg(hung.process.pid, signal.SIGCONT)
        late = answer.result()
    assert str(closed["error_message"]).startswith("interrupted:"), closed
    assert late.status_code == 502, late.text  # the resumed run learns it was given up, and stops
    final = newest_run(sql, integration["id"])
    assert final == closed, "the resumed run overwrote the interrupted verdict"
    assert stored(sql, XERO, integration["id"])[0] == 100  # nothing stored after it was given up
    shown = integration_row(sql, integration["id"])
    assert shown is not None
    assert shown["sync_status"] == "ERROR"
