"""Waiting, in the web process, for a queued sync to end — without a thread or a connection per waiter.

One LISTEN connection per process hears every run's end (sync/runs.py announces it on FINISHED_CHANNEL)
and wakes the requests waiting for that run; each reads the row again then. A notification can be missed
(the connection dropped and came back), so a waiter also looks every FALLBACK_POLL_S on its own.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from functools import partial

import anyio
import psycopg
import structlog
from sqlalchemy import Engine, RowMapping, select

from integration_service.db.schema import integrations_sync_logs as sync_logs
from integration_service.sync.runs import FINISHED_CHANNEL

log = structlog.get_logger(__name__)

FALLBACK_POLL_S = 2.0
RECONNECT_WAIT_S = 1.0
OPEN_STATUSES = ("queued", "running")


class SyncWaiter:
    def __init__(self, engine: Engine, conninfo: str) -> None:
        self.engine = engine
        self._conninfo = conninfo
        self._waiting: defaultdict[str, set[anyio.Event]] = defaultdict(set)

    async def listen(self) -> None:
        """Runs for the process's life (a task of the app's lifespan); reconnects when the connection drops."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {FINISHED_CHANNEL}")
                    async for notification in connection.notifies():
                        self._wake(notification.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("listening for finished syncs failed; reconnecting", error_class=type(exc).__name__)
            for log_id in list(self._waiting):  # whatever ended meanwhile was not heard: everyone looks
                self._wake(log_id)
            await anyio.sleep(RECONNECT_WAIT_S)

    async def wait(self, log_id: uuid.UUID, timeout_s: float) -> RowMapping | None:
        """The run's log row once it ended, or as it is when `timeout_s` ran out (still queued or running);
        None when the row is gone (its integration was deleted). A run whose worker died is followed to the
        retry of its job (a newer row of the same job), as the user asked for the sync, not for one attempt."""
        deadline = time.monotonic() + timeout_s
        while True:
            key = str(log_id)
            event = anyio.Event()
            self._waiting[key].add(event)
            try:
                row = await anyio.to_thread.run_sync(partial(self._read, log_id))
                remaining = deadline - time.monotonic()
                if row is not None and row["status"] not in OPEN_STATUSES:
                    retry = await anyio.to_thread.run_sync(partial(self._retry_of, row))
                    if retry is None or remaining <= 0:
                        return row
                    log_id = retry
                    continue
                if row is None or remaining <= 0:
                    return row
                with anyio.move_on_after(min(remaining, FALLBACK_POLL_S)):
                    await event.wait()
            finally:
                self._forget(key, event)

    def _wake(self, key: str) -> None:
        for event in self._waiting.get(key, ()):
            event.set()

    def _forget(self, key: str, event: anyio.Event) -> None:
        waiters = self._waiting.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiting[key]

    def _retry_of(self, row: RowMapping) -> uuid.UUID | None:
        """The newer attempt of the same job, when this one was interrupted (its worker died)."""
        if row["job_id"] is None or not str(row["error_message"] or "").startswith("interrupted:"):
            return None
        with self.engine.connect() as connection:
            newer: uuid.UUID | None = connection.execute(
                select(sync_logs.c.id)
                .where(sync_logs.c.job_id == row["job_id"], sync_logs.c.created_at > row["created_at"])
                .order_by(sync_logs.c.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()
        return newer

    def _read(self, log_id: uuid.UUID) -> RowMapping | None:
        with self.engine.connect() as connection:
            return connection.execute(select(sync_logs).where(sync_logs.c.id == log_id)).mappings().one_or_none()
