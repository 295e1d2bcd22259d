"""A sync whose worker dies or hangs is closed as `failed` with an `interrupted:` reason (contract C7).

Real processes: a service's only sync worker is killed with SIGKILL (or frozen with SIGSTOP) in the middle
of a sync, and another service, started on the same database, finds the run by its startup sweep (or its
heartbeat timeout) and tells the truth about it. (A dead worker's job retried by another worker:
test_workers.py.)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness.core.polling import wait_for
from harness.core.processes import ServerProcess
from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import XERO, fault, stored
from tests.integration_service.sync.races import (
    SQL,
    integration_row,
    new_xero_org,
    newest_run,
    wait_until_running,
)

pytestmark = pytest.mark.db
StartService = Callable[..., ServerProcess]


def _sync(client: httpx.Client, integration_id: str) -> httpx.Response:
    return client.post("/api/integrations/sync", json={"integrationId": integration_id, "dataType": "invoices"})


def _interrupted(sql: SQL, integration_id: str) -> dict[str, object] | None:
    run = newest_run(sql, integration_id)
    return run if run and run["status"] == "failed" else None


def test_a_sync_killed_with_its_only_worker_is_closed_as_interrupted_when_a_service_starts_again(
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
        doomed.kill()  # the service and the worker running it (no other worker takes its queue)
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
    hung = start_service(SYNC_WAIT_S="60")
    fault(sandbox_control, XERO, kind="delay", delay_ms=2000, page=2, times=1)
    worker = hung.companions[0].process
    assert worker is not None
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(_sync, client_to(hung, user), integration["id"])
        wait_until_running(sql, integration["id"], synced_at_least=100)
        os.killpg(worker.pid, signal.SIGSTOP)  # alive, holding its lock, making no progress
        try:
            start_service(SYNC_STALE_AFTER_S="2")
            closed = wait_for("the stale run to be closed", lambda: _interrupted(sql, integration["id"]))
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        late = answer.result()
    assert str(closed["error_message"]).startswith("interrupted:"), closed
    assert late.status_code == 502, late.text  # the resumed run learns it was given up, and stops
    final = newest_run(sql, integration["id"])
    assert final == closed, "the resumed run overwrote the interrupted verdict"
    assert stored(sql, XERO, integration["id"])[0] == 100  # nothing stored after it was given up
    shown = integration_row(sql, integration["id"])
    assert shown is not None
    assert shown["sync_status"] == "ERROR"
