"""Syncs run as jobs on workers (jobs/): a worker killed mid-sync, scheduled syncs, back-off and pause,
202 for a sync that outlasts the request, a burst of requests.

Real processes throughout: each service started here has its own sync worker (and queue); a second worker
joins a queue the way `invoke worker` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg.types.json import Jsonb

from harness.core.polling import wait_for
from harness.core.processes import Companion, ServerProcess
from harness.stack.local import worker_process
from integration_service.jobs.tasks import MAX_WORKER_DEATHS
from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import XERO, fault, stored
from tests.integration_service.sync.conftest import OwnInstance, StartService
from tests.integration_service.sync.races import SQL, new_xero_org, wait_until_running

# e2e: every test starts a service and its worker of its own (some on a database of their own) and waits on
# scheduler ticks and stalled-worker timeouts: about two minutes of one xdist worker, more than the fast tier.
pytestmark = [pytest.mark.db, pytest.mark.e2e]
ClientTo = Callable[[ServerProcess, ApiUser], httpx.Client]


def sync(client: httpx.Client, integration_id: str, data_type: str = "invoices") -> httpx.Response:
    return client.post("/api/integrations/sync", json={"integrationId": integration_id, "dataType": data_type})


def wait_log_ended(client: httpx.Client, queued: httpx.Response, what: str) -> dict[str, Any]:
    """The sync log a 202's Location names, once its run ended (read through the API, as a caller would)."""

    def ended() -> dict[str, Any] | None:
        read = client.get(queued.headers["Location"])
        assert read.status_code == 200, read.text
        log: dict[str, Any] = read.json()
        return log if log["status"] not in ("queued", "running") else None

    return wait_for(what, ended)


def runs(sql: SQL, integration_id: str) -> list[dict[str, Any]]:
    cursor = sql.execute(
        "SELECT id, status, error_message, synced_records, job_id, trigger FROM integrations_sync_logs"
        " WHERE integration_id = %s ORDER BY created_at",
        [integration_id],
    )
    names = [column.name for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def second_worker(tmp_path: Path) -> Iterator[Callable[[ServerProcess], Companion]]:
    """Another worker on a service's queue (as `invoke worker` would join it), stopped after the test."""
    started: list[Companion] = []

    def start(beside: ServerProcess) -> Companion:
        worker = worker_process(tmp_path / f"second-worker-{beside.port}.log", beside.env).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_worker_killed_mid_sync_is_retried_by_another_worker_and_stores_every_record_once(
    start_service: StartService,
    second_worker: Callable[[ServerProcess], Companion],
    make_user: Callable[[], ApiUser],
    client_to: ClientTo,
    connect: Connect,
    sandbox_control: httpx.Client,
    sql: SQL,
) -> None:
    org = new_xero_org(sandbox_control, 300)
    user = make_user()
    integration = connect(user, "xero", tenant=org, tenantId=org)
    service = start_service(WORKER_STALLED_AFTER_S="3", SYNC_SCHEDULE_TICK_S="1", SYNC_WAIT_S="90")
    fault(sandbox_control, XERO, kind="delay", delay_ms=60_000, page=2, times=1)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(sync, client_to(service, user), integration["id"])
        wait_until_running(sql, integration["id"], synced_at_least=100)
        second_worker(service)  # two workers on the queue now; the first holds the job
        service.companions[0].kill()  # SIGKILL mid-sync: no cleanup, its connections simply drop
        sandbox_control.delete("/faults").raise_for_status()
        finished = answer.result()

    assert finished.status_code == 200, finished.text  # the request followed its job to the retry
    assert finished.json()["result"]["syncedRecords"] == 300
    assert stored(sql, XERO, integration["id"]) == (300, 300)  # every record once: upserts, no duplicates
    dead, retry = runs(sql, integration["id"])
    assert dead["status"] == "failed", dead
    assert str(dead["error_message"]).startswith("interrupted:"), dead
    assert dead["synced_records"] == 100  # what the dead attempt had stored, as stored
    assert retry["status"] == "success", retry
    assert retry["job_id"] == dead["job_id"] is not None  # the same job, retried
    # The job ends a moment after its run's row is closed (the answer comes from the row): then it is done.
    wait_for("the retried job to finish", lambda: not _sync_jobs_left(sql, dead["job_id"]))


def _sync_jobs_left(sql: SQL, job_id: int) -> bool:
    row = sql.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", [job_id]).fetchone()
    return row is not None and row[0] in ("todo", "doing")


def test_a_sync_that_outlasts_the_request_is_answered_202_with_its_log(
    start_service: StartService,
    make_user: Callable[[], ApiUser],
    client_to: ClientTo,
    connect: Connect,
    sandbox_control: httpx.Client,
    sql: SQL,
) -> None:
    org = new_xero_org(sandbox_control, 200)
    user = make_user()
    integration = connect(user, "xero", tenant=org, tenantId=org)
    service = start_service(SYNC_WAIT_S="0.5")
    client = client_to(service, user)
    fault(sandbox_control, XERO, kind="delay", delay_ms=3000, page=1, times=1)

    queued = sync(client, integration["id"])
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["status"] in ("queued", "running")
    assert queued.headers["Location"] == f"/api/integrations/logs/{body['syncLogId']}"
    again = sync(client, integration["id"])
    assert again.status_code == 409, again.text  # one open sync per integration: the second does not join
    assert "already running" in again.json()["error"]["message"]
    assert queued.headers["Location"] in again.json()["error"]["message"]  # names the run to follow instead

    log = wait_log_ended(client, queued, "the queued sync to end")
    assert log["status"] == "success", log
    assert log["syncedRecords"] == 200
    assert log["trigger"] == "request"
    other = make_user()
    assert client_to(service, other).get(queued.headers["Location"]).status_code == 404  # nobody else's log
    assert stored(sql, XERO, integration["id"]) == (200, 200)


def test_active_integrations_sync_on_their_schedule(
    own_instance: Callable[..., OwnInstance], connect: Connect, sandbox_control: httpx.Client
) -> None:
    instance = own_instance(SYNC_INTERVAL_S="2", SYNC_SCHEDULE_TICK_S="1")
    org = new_xero_org(sandbox_control, 120)
    integration = connect(instance.user, "xero", tenant=org, tenantId=org)

    def scheduled_twice() -> list[dict[str, Any]] | None:
        done = [
            run
            for run in runs(instance.sql, integration["id"])
            if run["trigger"] == "schedule" and run["status"] == "success"
        ]
        return done if len(done) >= 2 else None

    done = wait_for("two scheduled syncs", scheduled_twice)
    assert done[0]["synced_records"] == 121  # everything ("all": 120 invoices, 1 contact); the next, what changed
    assert stored(instance.sql, XERO, integration["id"]) == (120, 120)
    row = instance.sql.execute(
        "SELECT sync_status FROM integrations_credentials WHERE id = %s",
        [integration["id"]],
    ).fetchone()
    assert row is not None
    assert row[0] == "SUCCESS"


def test_failing_scheduled_syncs_back_off_then_pause_the_integration_with_a_reason(
    own_instance: Callable[..., OwnInstance], connect: Connect, sandbox_control: httpx.Client
) -> None:
    org = new_xero_org(sandbox_control, 10)
    # Its organisation answers 400 to every listing (connecting lists nothing): no retry helps, each run fails.
    fault(sandbox_control, XERO, kind="error", status=400, times=1000)
    instance = own_instance(SYNC_INTERVAL_S="1", SYNC_SCHEDULE_TICK_S="1", SYNC_PAUSE_AFTER_FAILURES="3")
    integration = connect(instance.user, "xero", tenant=org, tenantId=org)

    def paused() -> tuple[Any, ...] | None:
        row = instance.sql.execute(
            "SELECT sync_status, sync_error, sync_failures, sync_paused_at FROM integrations_credentials WHERE id = %s",
            [integration["id"]],
        ).fetchone()
        return row if row is not None and row[3] is not None else None

    status, error, failures, _ = wait_for("the integration to be paused", paused)
    assert status == "ERROR"
    assert failures == 3
    assert str(error).startswith("paused after 3 failed syncs in a row"), error
    scheduled = [run for run in runs(instance.sql, integration["id"]) if run["trigger"] == "schedule"]
    assert [run["status"] for run in scheduled] == ["failed"] * 3, scheduled
    sandbox_control.delete("/faults").raise_for_status()
    time.sleep(3)  # three scheduler ticks (SYNC_SCHEDULE_TICK_S=1): a paused integration is not queued again
    assert len(runs(instance.sql, integration["id"])) == 3  # paused: no more scheduled runs


def test_a_hundred_sync_requests_at_once_get_no_5xx(
    start_service: StartService,
    make_user: Callable[[], ApiUser],
    client_to: ClientTo,
    connect: Connect,
    sandbox_control: httpx.Client,
    sql: SQL,
) -> None:
    service = start_service(SYNC_WAIT_S="60")
    pairs = []
    for _ in range(10):
        user = make_user()
        org = new_xero_org(sandbox_control, 20)
        pairs.append((client_to(service, user), connect(user, "xero", tenant=org, tenantId=org)["id"]))
    with ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(lambda index: sync(*pairs[index % 10]), range(100)))
    codes = sorted(answer.status_code for answer in answers)
    assert not [answer.text for answer in answers if answer.status_code >= 500], codes
    assert set(codes) <= {200, 409}, codes
    assert codes.count(200) >= 10  # each integration synced at least once; the rest were told one was open
    for _, integration_id in pairs:
        assert stored(sql, XERO, integration_id) == (20, 20)


def test_a_job_whose_workers_keep_dying_is_given_up_and_counted_as_a_failure(
    own_instance: Callable[..., OwnInstance], connect: Connect, sandbox_control: httpx.Client
) -> None:
    instance = own_instance(WORKER_STALLED_AFTER_S="3", SYNC_SCHEDULE_TICK_S="1")
    org = new_xero_org(sandbox_control, 10)
    integration = connect(instance.user, "xero", tenant=org, tenantId=org)
    sql = instance.sql
    # What two earlier deaths leave: the job `doing` for the third time, its worker gone, its run `running`.
    log_id, user_id = sql.execute(
        "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status, trigger)"
        " SELECT id, user_id, integration_type, 'all', 'running', 'request' FROM integrations_credentials"
        " WHERE id = %s RETURNING id, user_id",
        [integration["id"]],
    ).fetchone()  # type: ignore[misc]
    arguments = {"log_id": str(log_id), "user_id": user_id, "integration_id": integration["id"], "data_type": "all"}
    job_id = sql.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, status, attempts, args)"
        " VALUES (%s, 'sync_integration', 'doing', %s, %s) RETURNING id",
        [instance.service.env["SYNC_QUEUE"], MAX_WORKER_DEATHS - 1, Jsonb({**arguments, "full": False})],
    ).fetchone()[0]  # type: ignore[index]
    sql.execute("UPDATE integrations_sync_logs SET job_id = %s WHERE id = %s", [job_id, log_id])

    def job_status() -> str | None:
        row = sql.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", [job_id]).fetchone()
        return None if row is None or row[0] == "doing" else str(row[0])

    assert wait_for("the stalled job to be given up or retried", job_status) == "failed"  # not retried a third time
    (run,) = runs(sql, integration["id"])
    assert run["status"] == "failed", run
    assert "given up" in str(run["error_message"]), run
    failures = sql.execute(
        "SELECT sync_failures, next_sync_at > now() FROM integrations_credentials WHERE id = %s", [integration["id"]]
    ).fetchone()
    assert failures == (1, True)  # a failure to the schedule: backed off, not queued again at the next tick


def test_a_sync_queued_while_no_worker_runs_says_so_and_runs_when_one_starts(
    own_instance: Callable[..., OwnInstance],
    second_worker: Callable[[ServerProcess], Companion],
    connect: Connect,
    sandbox_control: httpx.Client,
) -> None:
    instance = own_instance(SYNC_WAIT_S="1", WORKER_STALLED_AFTER_S="3")
    org = new_xero_org(sandbox_control, 10)
    integration = connect(instance.user, "xero", tenant=org, tenantId=org)
    instance.service.companions[0].kill()
    time.sleep(4)  # past WORKER_STALLED_AFTER_S: its last heartbeat is too old to count as a running worker

    queued = sync(instance.user.client, integration["id"])
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    assert "no sync worker is running" in queued.json()["message"], queued.json()
    second_worker(instance.service)

    ended = wait_log_ended(instance.user.client, queued, "the queued sync to run on the new worker")
    assert ended["status"] == "success", ended
