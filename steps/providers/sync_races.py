"""Checklist steps: syncs racing other writers, crashes and each other (issue 13, contract C7).

An account switch during a run (XERO-02), a delete during a run and more syncs at once than the
workers run at a time (INT-05: they queue), a service killed mid-sync and started again (OPS-ALERTS: the
monitor sees the run stuck, the restart closes it as interrupted). The killing scenario starts service instances of its
own on the local stage's database and sandbox, and kills only those.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from harness.gates.scenarios import LOCAL_SERVICE_ENV
from harness.ops.monitor import evaluate
from harness.stack.local import sandbox_service_env
from steps.common import World, connect_account, describe
from steps.support.accounting import XERO, Books, connect_org, integration, ok_json, org
from steps.support.lab import stage_target
from steps.support.pre_deployment import add_sandbox_fault, stage_sql, start_service_instance
from steps.support.sync_runs import Race, newest_run, start_sync, sync_invoices


@pytest.fixture
def race() -> Iterator[Race]:
    made = Race()
    yield made
    made.pool.shutdown(wait=True, cancel_futures=True)


# --- given ------------------------------------------------------------------------------------------


@given(
    parsers.re(
        r'"(?P<user>[^"]+)" has connected Xero to "(?P<name>[^"]+)" on a consent covering "(?P<other>[^"]+)" too$'
    )
)
def race_connect_two_orgs(world: World, books: Books, user: str, name: str, other: str) -> None:
    covered = f"{org(world, books, name).tenant_id},{org(world, books, other).tenant_id}"
    connect_org(world, books, user, name, covered, {"tenantId": org(world, books, name).tenant_id})


@given(
    parsers.re(r"Xero answers page (?P<page>\d+) of the invoices only after (?P<ms>\d+) ms(?:, (?P<times>\d+) times)?$")
)
def race_slow_xero_page(world: World, request: pytest.FixtureRequest, page: str, ms: str, times: str | None) -> None:
    rule = {"provider": "xero", "kind": "delay", "path": "/Invoices", "page": int(page), "delay_ms": int(ms)}
    add_sandbox_fault(world, request, {**rule, "times": int(times or 1)})


@given(
    parsers.re(
        r"(?P<count>\d+) users who have each connected Xero to an organisation of their own with "
        r"(?P<invoices>\d+) invoices$"
    )
)
def race_crowd(world: World, race: Race, count: str, invoices: str) -> None:
    for number in range(int(count)):
        made = ok_json(world.sandbox().post("/tenants", json={"provider": "xero", "invoices": int(invoices)}), 201)
        user = world.user(f"crowd {number}")
        connected = connect_account(world, user, "xero", made["tenant_id"], tenantId=made["tenant_id"])
        race.crowd.append((user.client, str(connected["id"])))


@given("a service instance of the stage's own, on its database and provider sandbox")
def race_instance(world: World, race: Race, request: pytest.FixtureRequest) -> None:
    if world.target.stage != "local" or world.target.sandbox_url is None:
        pytest.fail("this scenario kills service processes: only the local stage's own stack may run it")
    race.instance = start_service_instance(
        world, request, {**LOCAL_SERVICE_ENV, **sandbox_service_env(world.target.sandbox_url)}
    )


# --- when -------------------------------------------------------------------------------------------


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" points the Xero integration of "(?P<name>[^"]+)" at "(?P<other>[^"]+)"'
        r" while its invoices sync$"
    )
)
def race_switch_account(world: World, books: Books, race: Race, user: str, name: str, other: str) -> None:
    client = world.user(user).client
    integration_id = start_sync(world, race, client, name)
    custom = {"tenantId": org(world, books, other).tenant_id}
    race.answer = client.patch(f"/api/integrations/{integration_id}", json={"customData": custom})
    world.integrations[other] = ok_json(race.answer)["integration"]
    books.owner[other] = world.user(user)


@when(
    parsers.re(r'"(?P<user>[^"]+)" deletes the integration of "(?P<name>[^"]+)"(?P<racing> while its invoices sync)?$')
)
def race_delete(world: World, race: Race, user: str, name: str, racing: str | None) -> None:
    client = world.user(user).client
    integration_id = start_sync(world, race, client, name) if racing else str(integration(world, name)["id"])
    race.answer = client.delete(f"/api/integrations/{integration_id}")


@when(
    parsers.re(
        r'the (?P<count>\d+) users sync at the same time while "(?P<user>[^"]+)" lists (?:his|her) integrations$'
    )
)
def race_crowd_syncs(world: World, race: Race, count: str, user: str) -> None:
    assert len(race.crowd) == int(count), f"{len(race.crowd)} users were made, not {count}"
    bystander = world.user(user).client
    ids = [integration_id for _, integration_id in race.crowd]
    runs = [race.pool.submit(sync_invoices, client, integration_id) for client, integration_id in race.crowd]
    with stage_sql(world) as sql:
        while not all(run.done() for run in runs):
            started = time.monotonic()
            status = bystander.get("/api/integrations").status_code
            race.bystander.append((status, time.monotonic() - started))
            race.running_at_once.append(_running(sql, ids))
            time.sleep(0.2)  # a person's pace, under the per-token rate limit
    race.syncs = [run.result() for run in runs]


def _running(sql: Any, integration_ids: list[str]) -> int:
    row = sql.execute(
        "SELECT count(*) FROM integrations_sync_logs WHERE status = 'running' AND integration_id::text = ANY(%s)",
        [integration_ids],
    ).fetchone()
    return int(row[0])


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" starts a sync of "(?P<name>[^"]+)" on that instance, which is killed with '
        r"SIGKILL once the first page is stored$"
    )
)
def race_kill_mid_sync(world: World, race: Race, user: str, name: str) -> None:
    assert race.instance is not None
    assert race.instance.process is not None
    token = world.user(user).token
    client = world.client(base_url=race.instance.url, headers={"Authorization": f"Bearer {token}"})
    start_sync(world, race, client, name, stored_at_least=XERO.page_size)
    race.instance.kill()  # the service and its sync worker, which runs the sync: a crashed machine
    with pytest.raises(httpx.TransportError):
        race.finished()


@when("the instance is started again")
def race_restart(world: World, race: Race, request: pytest.FixtureRequest) -> None:
    race_instance(world, race, request)


# --- then -------------------------------------------------------------------------------------------


@then(parsers.re(r'the sync that was running succeeds, and the integration claims no sync of "(?P<name>[^"]+)" yet$'))
def race_switched_sync_done(world: World, books: Books, race: Race, name: str) -> None:
    finished = race.finished()
    assert finished.status_code == 200, describe(finished)
    shown = ok_json(
        world.user(books.owner[name].name).client.get(f"/api/integrations/{integration(world, name)['id']}")
    )["integration"]
    assert shown["lastSyncedAt"] is None, (
        f"the run read the old organisation but stamped lastSyncedAt {shown['lastSyncedAt']}: the next sync of "
        f'"{name}" would be incremental and miss its history'
    )


@then(parsers.re(r'the delete is answered (?P<status>\d+) "(?P<code>[a-z_]+)", saying a sync is running$'))
def race_delete_refused(race: Race, status: str, code: str) -> None:
    answer = race.answer
    assert answer is not None
    assert answer.status_code == int(status), describe(answer)
    error = answer.json()["error"]
    assert error["code"] == code, describe(answer)
    assert "sync" in error["message"], describe(answer)


@then(parsers.re(r"the sync that was running succeeds with (?P<count>\d+) invoices$"))
def race_sync_succeeded(world: World, race: Race, count: str) -> None:
    world.response = race.finished()
    result = ok_json(world.response)["result"]
    assert result["syncedRecords"] == int(count), describe(world.response)


@then(parsers.re(r'the integration of "(?P<name>[^"]+)" is gone$'))
def race_deleted(world: World, books: Books, race: Race, name: str) -> None:
    assert race.answer is not None, "no delete was sent"
    assert race.answer.status_code == 204, describe(race.answer)
    owner = books.owner[name]
    gone = owner.client.get(f"/api/integrations/{integration(world, name)['id']}")
    assert gone.status_code == 404, describe(gone)


@then(parsers.re(r"every sync succeeded with (?P<count>\d+) invoices, and never more than (?P<most>\d+) ran at once$"))
def race_crowd_bounded(race: Race, count: str, most: str) -> None:
    wrong = [describe(s) for s in race.syncs if s.status_code != 200]
    assert wrong == [], f"queued syncs that did not end well within SYNC_WAIT_S: {wrong[:3]}"
    for answer in race.syncs:
        assert answer.json()["result"]["syncedRecords"] == int(count), describe(answer)
    peak = max(race.running_at_once, default=0)
    assert peak <= int(most), f"{peak} syncs ran at once: nothing keeps them below the database pool"
    assert peak >= 2, f"at most {peak} sync ran at a time: the burst never overlapped, so it proves no bound"


@then(parsers.re(r'every list of "(?P<user>[^"]+)" during the syncs was answered 200$'))
def race_bystander_unaffected(race: Race, user: str) -> None:
    # Their latency is measured (race.bystander) but not judged: a shared machine's timings are noise.
    statuses = [status for status, _ in race.bystander]
    assert statuses, f'"{user}" sent no request during the burst'
    assert set(statuses) == {200}, f'"{user}" was answered {sorted(set(statuses))} during the burst'


@then(parsers.re(r'the latest sync log of "(?P<name>[^"]+)" is left "running"$'))
def race_left_running(world: World, name: str) -> None:
    run = newest_run(world, str(integration(world, name)["id"]))
    assert run is not None, f'"{name}" has no sync log'
    assert run["status"] == "running", run


@then(
    parsers.re(
        r'the alert "(?P<rule>[a-z_0-9]+)" (?P<fires>fires|does not fire) for "(?P<name>[^"]+)" when '
        r"(?P<minutes>\d+) minutes? without progress count as stuck$"
    )
)
def race_stuck_alert(world: World, rule: str, fires: str, name: str, minutes: str) -> None:
    result = evaluate(stage_target(world), stuck_sync_minutes=float(minutes))
    [alert] = [alert for alert in result.alerts if alert.rule == rule]
    named = [row for row in alert.rows if row.get("integration_id") == str(integration(world, name)["id"])]
    assert bool(named) == (fires == "fires"), f"{rule} {fires} expected for {name}; its rows: {alert.rows[:5]}"


@then(
    parsers.re(
        r'the latest sync log of "(?P<name>[^"]+)" is "failed", completed, with an error starting '
        r'"(?P<prefix>[^"]+)"$'
    )
)
def race_closed_as_interrupted(world: World, name: str, prefix: str) -> None:
    run = newest_run(world, str(integration(world, name)["id"]))
    assert run is not None
    assert run["status"] == "failed", run
    assert run["completed_at"] is not None, run
    assert str(run["error_message"]).startswith(prefix), run


@then(
    parsers.re(
        r'the integration of "(?P<name>[^"]+)" shows the sync status "ERROR", saying the sync was '
        r"interrupted$"
    )
)
def race_integration_error(world: World, books: Books, name: str) -> None:
    owner = books.owner[name]
    shown = ok_json(owner.client.get(f"/api/integrations/{integration(world, name)['id']}"))["integration"]
    assert shown["syncStatus"] == "ERROR", shown
    assert "interrupted" in (shown["syncError"] or ""), shown
