"""What the sync-safety tests share: organisations of their own at the sandbox, syncs started in the
background, and waiting (bounded) for a run to be under way or closed."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import psycopg

from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import sync

SQL = psycopg.Connection[tuple[Any, ...]]
WAIT_S = 60.0  # a bound for waiting on another process, never a timing assertion


def new_xero_org(control: httpx.Client, invoices: int) -> str:
    made = control.post("/tenants", json={"provider": "xero", "invoices": invoices, "contacts": 1})
    made.raise_for_status()
    return str(made.json()["tenant_id"])


def in_background(pool: ThreadPoolExecutor, user: ApiUser, integration_id: str, **options: Any) -> Future[Any]:
    return pool.submit(sync, user, integration_id, **options)


def newest_run(sql: SQL, integration_id: str) -> dict[str, Any] | None:
    cursor = sql.execute(
        "SELECT id, status, error_message, completed_at, synced_records FROM integrations_sync_logs"
        " WHERE integration_id = %s ORDER BY created_at DESC LIMIT 1",
        [integration_id],
    )
    row = cursor.fetchone()
    names = [column.name for column in cursor.description or []]
    return None if row is None else dict(zip(names, row, strict=True))


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def wait_until_running(sql: SQL, integration_id: str, synced_at_least: int = 0) -> dict[str, Any]:
    def running() -> dict[str, Any] | None:
        run = newest_run(sql, integration_id)
        return run if run and run["status"] == "running" and run["synced_records"] >= synced_at_least else None

    found: dict[str, Any] = wait_for(f"a running sync of {integration_id}", running)
    return found


def integration_row(sql: SQL, integration_id: str) -> dict[str, Any] | None:
    cursor = sql.execute(
        "SELECT sync_status, sync_error, last_synced_at FROM integrations_credentials WHERE id = %s", [integration_id]
    )
    row = cursor.fetchone()
    names = [column.name for column in cursor.description or []]
    return None if row is None else dict(zip(names, row, strict=True))
