"""What the sync-safety tests share: organisations of their own at the sandbox, syncs started in the
background, and waiting (bounded) for a run to be under way or closed."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import psycopg

from harness.core.polling import wait_for
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import sync

SQL = psycopg.Connection[tuple[Any, ...]]


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
