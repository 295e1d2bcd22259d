"""Syncs the race and worker scenarios start and watch: the `Race` they share, a sync started in the
background, and waiting (bounded) for a run to be under way."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.core.polling import wait_for
from harness.core.processes import ServerProcess
from steps.common import World
from steps.support.accounting import integration
from steps.support.pre_deployment import stage_sql

WAIT_S = 60.0  # a bound on waiting for another process, never a timing assertion


@dataclass
class Race:
    """What a race scenario started and saw."""

    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(32))
    running: Future[httpx.Response] | None = None
    answer: httpx.Response | None = None  # the racing request's (delete, patch) answer
    instance: ServerProcess | None = None
    crowd: list[tuple[httpx.Client, str]] = field(default_factory=list)  # (user's client, integration id)
    syncs: list[httpx.Response] = field(default_factory=list)
    bystander: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds) of each list
    running_at_once: list[int] = field(default_factory=list)  # syncs `running` at each look during a burst
    clients: dict[str, httpx.Client] = field(default_factory=dict)  # users of an instance's own database

    def finished(self) -> httpx.Response:
        assert self.running is not None, "no sync was started in the background"
        return self.running.result(timeout=WAIT_S * 2)


def sync_invoices(client: httpx.Client, integration_id: str) -> httpx.Response:
    return client.post("/api/integrations/sync", json={"integrationId": integration_id, "dataType": "invoices"})


def newest_run(world: World, integration_id: str) -> dict[str, Any] | None:
    with stage_sql(world) as sql:
        cursor = sql.execute(
            "SELECT status, error_message, completed_at, synced_records FROM integrations_sync_logs"
            " WHERE integration_id = %s ORDER BY created_at DESC LIMIT 1",
            [integration_id],
        )
        row = cursor.fetchone()
        names = [column.name for column in cursor.description or []]
    return None if row is None else dict(zip(names, row, strict=True))


def wait_running(world: World, integration_id: str, stored_at_least: int = 0) -> None:
    def running() -> bool:
        run = newest_run(world, integration_id)
        return bool(run and run["status"] == "running" and run["synced_records"] >= stored_at_least)

    wait_for(f"a running sync of {integration_id} with {stored_at_least}+ records stored", running)


def start_sync(world: World, race: Race, client: httpx.Client, name: str, stored_at_least: int = 0) -> str:
    integration_id = str(integration(world, name)["id"])
    race.running = race.pool.submit(sync_invoices, client, integration_id)
    wait_running(world, integration_id, stored_at_least)
    return integration_id
