"""Syncs racing other writers, over real HTTP: service process → sandbox process → PostgreSQL.

An account switch during a run, a delete during a run, and more concurrent syncs than the service
takes at once. Each test slows the sandbox's answers down so that the race certainly happens.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser, RunningService
from tests.integration_service.accounting import XERO, fault, stored, sync
from tests.integration_service.sync.races import (
    SQL,
    in_background,
    integration_row,
    new_xero_org,
    wait_until_running,
)

pytestmark = pytest.mark.db
log = logging.getLogger(__name__)


def test_an_account_switch_during_a_sync_makes_the_next_sync_fetch_the_new_account_whole(
    make_user: Callable[[], ApiUser], connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    user = make_user()
    first, second = new_xero_org(sandbox_control, 300), new_xero_org(sandbox_control, 120)
    integration = connect(user, "xero", tenant=f"{first},{second}", tenantId=first)
    fault(sandbox_control, XERO, kind="delay", delay_ms=1500, page=2, times=1)
    with ThreadPoolExecutor(1) as pool:
        running = in_background(pool, user, integration["id"])
        wait_until_running(sql, integration["id"])
        switched = user.client.patch(
            f"/api/integrations/{integration['id']}", json={"customData": {"tenantId": second}}
        )
        assert switched.status_code == 200, switched.text
        assert running.result().status_code == 200
    # The finished run synced the first organisation: its stamp must not claim the second one.
    after = integration_row(sql, integration["id"])
    assert after is not None
    assert after["last_synced_at"] is None, "the run stamped a watermark for an account it never read"

    following = sync(user, integration["id"])
    assert following.status_code == 200, following.text
    assert following.json()["result"]["syncedRecords"] == 120  # the second organisation's whole history
    stamped = integration_row(sql, integration["id"])
    assert stamped is not None
    assert stamped["last_synced_at"] is not None


def test_deleting_an_integration_while_it_syncs_is_refused_and_the_sync_finishes(
    make_user: Callable[[], ApiUser], connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    user = make_user()
    org = new_xero_org(sandbox_control, 400)
    integration = connect(user, "xero", tenant=org, tenantId=org)
    fault(sandbox_control, XERO, kind="delay", delay_ms=1500, page=3, times=1)
    with ThreadPoolExecutor(1) as pool:
        running = in_background(pool, user, integration["id"])
        wait_until_running(sql, integration["id"])
        refused = user.client.delete(f"/api/integrations/{integration['id']}")
        finished = running.result()
    assert refused.status_code == 409, refused.text
    assert "sync" in refused.json()["error"]["message"]
    assert finished.status_code == 200, finished.text
    assert finished.json()["result"]["syncedRecords"] == 400
    assert stored(sql, XERO, integration["id"]) == (400, 400)

    assert user.client.delete(f"/api/integrations/{integration['id']}").status_code == 204
    assert stored(sql, XERO, integration["id"]) == (0, 0)


@pytest.mark.e2e  # a burst: 25 users, 24 syncs held in flight at once while another user reads
def test_24_concurrent_syncs_are_bounded_and_other_users_are_unaffected(
    make_user: Callable[[], ApiUser],
    connect: Connect,
    sandbox_control: httpx.Client,
    sql: SQL,
    service: RunningService,
) -> None:
    """24 syncs at once queue: each runs on the worker, never more than SYNC_MAX_CONCURRENT (4) at a time,
    each is stored whole, and another user's requests keep being answered meanwhile."""
    users = [make_user() for _ in range(24)]
    orgs = [new_xero_org(sandbox_control, 150) for _ in users]
    integrations = [connect(user, "xero", tenant=org, tenantId=org) for user, org in zip(users, orgs, strict=True)]
    ids = [integration["id"] for integration in integrations]
    bystander = make_user()
    bystander.client.get("/api/integrations").raise_for_status()
    # Every run waits on its first page, so that runs overlap as much as the worker lets them.
    fault(sandbox_control, XERO, kind="delay", delay_ms=1500, page=1, times=24)

    latencies: list[float] = []
    running_at_once: list[int] = []
    with ThreadPoolExecutor(25) as pool:
        runs = [pool.submit(sync, user, i["id"]) for user, i in zip(users, integrations, strict=True)]
        while not all(run.done() for run in runs):
            started = time.monotonic()
            listed = bystander.client.get("/api/integrations")
            latencies.append(time.monotonic() - started)
            assert listed.status_code == 200, f"another user's list failed during the burst: {listed.text}"
            running_at_once.append(running(sql, ids))
            time.sleep(0.2)  # a person's pace, under the per-token rate limit
        answers = [run.result() for run in runs]

    codes = sorted(answer.status_code for answer in answers)
    # A figure for the record (see with --log-cli-level=INFO), never asserted: the machine is shared.
    log.info(
        "24 syncs answered %s; another user's list x%d: median %.0f ms, max %.0f ms",
        codes,
        len(latencies),
        statistics.median(latencies) * 1000,
        max(latencies) * 1000,
    )
    assert set(codes) == {200}, f"a queued sync did not end well within SYNC_WAIT_S: {codes}"
    assert max(running_at_once) <= 4, f"more syncs ran at once than SYNC_MAX_CONCURRENT: {max(running_at_once)}"
    assert max(running_at_once) >= 2, "the syncs never overlapped: the test proves nothing about the bound"
    for integration in integrations:
        assert stored(sql, XERO, integration["id"]) == (150, 150)


def running(sql: SQL, integration_ids: list[str]) -> int:
    row = sql.execute(
        "SELECT count(*) FROM integrations_sync_logs WHERE status = 'running' AND integration_id::text = ANY(%s)",
        [integration_ids],
    ).fetchone()
    assert row is not None
    return int(row[0])
