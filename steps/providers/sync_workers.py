"""Checklist steps: syncs as jobs on workers (issue 15) — a worker killed mid-sync whose job another worker
retries (INT-05), and scheduled syncs that keep failing until the integration is paused (OPS-ALERTS: the
monitor's "fails 3 times in a row" from real scheduled runs).

Both start service instances of their own (each with its sync worker) on the local stage only: the first on
the stage's database and sandbox, the second on a scratch database of its own, since an instance that
schedules every integration every second must not sync anybody else's.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from pytest_bdd import given, parsers, then, when

from harness.core.polling import wait_for
from harness.gates.scenarios import LOCAL_SERVICE_ENV
from harness.stack.local import sandbox_service_env, service_process, worker_process
from harness.stack.tokens import issue_token_on
from steps.common import World, describe
from steps.providers.marketing_instances import new_billionmail_instance
from steps.support.accounting import XERO, integration
from steps.support.lab import OpsLab
from steps.support.pre_deployment import stage_sql, start_service_instance, undo_at_end
from steps.support.sync_runs import Race, start_sync

WORKERS_SETTINGS = {"SYNC_SCHEDULE_TICK_S": "1", "SYNC_WAIT_S": "90"}


def _local_only(world: World) -> str:
    if world.target.stage != "local" or world.target.sandbox_url is None:
        pytest.fail("this scenario starts and kills service processes: only the local stage's own stack may run it")
    return world.target.sandbox_url


def _runs(sql: psycopg.Connection[tuple[Any, ...]], integration_id: str) -> list[dict[str, Any]]:
    cursor = sql.execute(
        "SELECT status, trigger, error_message, synced_records, job_id FROM integrations_sync_logs"
        " WHERE integration_id = %s ORDER BY created_at",
        [integration_id],
    )
    names = [column.name for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- a worker killed mid-sync ---------------------------------------------------------------------------


@given(
    parsers.re(
        r"a service instance of the stage's own whose workers retry a silent worker's job after "
        r"(?P<seconds>\d+) seconds$"
    )
)
def workers_instance(world: World, race: Race, request: pytest.FixtureRequest, seconds: str) -> None:
    sandbox_url = _local_only(world)
    settings = {**LOCAL_SERVICE_ENV, **sandbox_service_env(sandbox_url), **WORKERS_SETTINGS}
    race.instance = start_service_instance(world, request, {**settings, "WORKER_STALLED_AFTER_S": seconds})


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" starts a sync of "(?P<name>[^"]+)" on that instance, and once its first page is '
        r"stored a second worker starts and the first is killed with SIGKILL$"
    )
)
def kill_worker_mid_sync(world: World, race: Race, request: pytest.FixtureRequest, user: str, name: str) -> None:
    assert race.instance is not None
    token = world.user(user).token
    client = world.client(base_url=race.instance.url, headers={"Authorization": f"Bearer {token}"})
    start_sync(world, race, client, name, stored_at_least=XERO.page_size)
    log_path = world.target.run_dir / "pre-deployment-services" / f"second-worker-{race.instance.port}.log"
    second = worker_process(log_path, race.instance.env).start()
    undo_at_end(request, second.stop)
    race.instance.companions[0].kill()  # the worker holding the job: no cleanup, its connections just drop


@then(parsers.re(r'"(?P<name>[^"]+)" holds each of its (?P<count>\d+) invoices once$'))
def invoices_once(world: World, name: str, count: str) -> None:
    with stage_sql(world) as sql:
        row = sql.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [str(integration(world, name)["id"])],
        ).fetchone()
    assert row == (int(count), int(count)), f"(rows, distinct invoices) stored: {row}, expected {count} of each"


@then(
    parsers.re(
        r'the sync logs of "(?P<name>[^"]+)" show the killed attempt "failed" with (?P<stored>\d+) records and an '
        r'error starting "(?P<prefix>[^"]+)", then a "success" of the same job$'
    )
)
def killed_then_retried(world: World, name: str, stored: str, prefix: str) -> None:
    with stage_sql(world) as sql:
        runs = _runs(sql, str(integration(world, name)["id"]))
    assert len(runs) == 2, f"expected the killed attempt and its retry: {runs}"
    dead, retry = runs
    assert dead["status"] == "failed", dead
    assert str(dead["error_message"]).startswith(prefix), dead
    assert dead["synced_records"] == int(stored), dead
    assert retry["status"] == "success", retry
    assert retry["job_id"] == dead["job_id"] is not None, f"not one job retried: {runs}"


# --- scheduled syncs that keep failing --------------------------------------------------------------------


@given(
    parsers.re(
        r"a service instance with a database of its own that syncs every integration every second and pauses "
        r"one after (?P<failures>\d+) failures in a row$"
    )
)
def scheduling_instance(world: World, ops: OpsLab, race: Race, request: pytest.FixtureRequest, failures: str) -> None:
    sandbox_url = _local_only(world)
    database_url = ops.scratch_database()
    ops.new_target(database_url)  # the monitor evaluates this database
    settings = {**LOCAL_SERVICE_ENV, **sandbox_service_env(sandbox_url), **WORKERS_SETTINGS}
    settings |= {"SYNC_INTERVAL_S": "1", "SYNC_PAUSE_AFTER_FAILURES": failures}
    process = service_process(database_url, world.target.run_dir / "scheduled-services", env=settings)
    undo_at_end(request, process.stop)
    race.instance = process.start(timeout_s=60)


@given(
    parsers.re(
        r'a user "(?P<user>[^"]+)" of that instance has connected BillionMail, whose API key was then rotated at '
        r"the BillionMail instance$"
    )
)
def failing_billionmail(world: World, ops: OpsLab, race: Race, user: str) -> None:
    assert race.instance is not None
    instance = new_billionmail_instance(world, 12)
    token = issue_token_on(ops.current().database_url, "local", f"qa-{user.lower()}-{time.monotonic_ns()}", "scenario")
    client = world.client(base_url=race.instance.url, headers={"Authorization": f"Bearer {token}"})
    race.clients[user] = client
    created = client.post(
        "/api/integrations",
        json={
            "integrationType": "BILLIONMAIL",
            "integrationName": f"{user}'s newsletter",
            "apiKey": instance.api_key,
            "customData": {"baseUrl": f"{world.sandbox_url()}/billionmail"},
        },
    )
    assert created.status_code == 201, describe(created)
    world.integrations[user] = created.json()["integration"]
    rotated = world.sandbox().post(f"/billionmail/instances/{instance.tenant_id}/key")  # the stored key stops working
    assert rotated.status_code == 201, describe(rotated)


@when(parsers.re(r'the schedule has synced the integration of "(?P<user>[^"]+)" until it is paused$'))
def until_paused(ops: OpsLab, user: str, world: World) -> None:
    integration_id = str(world.integrations[user]["id"])

    def paused() -> bool:
        with ops.sql() as sql:
            row = sql.execute(
                "SELECT sync_paused_at IS NOT NULL FROM integrations_credentials WHERE id = %s", [integration_id]
            ).fetchone()
        return bool(row and row[0])

    wait_for(f"the integration of {user} to be paused", paused)


@then(
    parsers.re(
        r'the sync logs of "(?P<user>[^"]+)" are (?P<count>\d+) runs the schedule asked for, each "failed", and no '
        r"more follow$"
    )
)
def scheduled_failures(ops: OpsLab, world: World, user: str, count: str) -> None:
    integration_id = str(world.integrations[user]["id"])
    with ops.sql() as sql:
        runs = _runs(sql, integration_id)
        assert [(run["trigger"], run["status"]) for run in runs] == [("schedule", "failed")] * int(count), runs
        time.sleep(3)  # three scheduler ticks: a paused integration is not queued again
        assert len(_runs(sql, integration_id)) == int(count), "the paused integration was synced again"


@then(
    parsers.re(
        r'the integration of "(?P<user>[^"]+)" shows the sync status "ERROR", saying it was paused after '
        r"(?P<count>\d+) failed syncs in a row$"
    )
)
def paused_with_reason(world: World, race: Race, user: str, count: str) -> None:
    client = race.clients[user]
    shown = client.get(f"/api/integrations/{world.integrations[user]['id']}")
    assert shown.status_code == 200, describe(shown)
    integration_shown = shown.json()["integration"]
    assert integration_shown["syncStatus"] == "ERROR", integration_shown
    assert str(integration_shown["syncError"]).startswith(f"paused after {count} failed syncs in a row"), (
        integration_shown
    )
