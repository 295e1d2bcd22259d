"""A sync run's log row: opened `running`, kept alive by a heartbeat, closed once with the truth.

A run whose process dies leaves its row `running`. `close_interrupted` closes such rows as `failed`
with an `interrupted:` reason (contract C7): at startup, every row whose integration's lock is free (the
dead process's connection released it); then periodically, every row whose heartbeat stopped for
SYNC_STALE_AFTER_S (the run died or hangs). The next run of the integration closes a leftover too.
Every close is conditional on the row still being `running`, so a run given up as hung that wakes
later neither overwrites the verdict nor stores anything more: its next heartbeat finds its row
closed and stops it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from sqlalchemy import Connection, Engine, Integer, RowMapping, cast, func, select

from integration_service.db.schema import integrations_credentials as credentials
from integration_service.db.schema import integrations_sync_logs as sync_logs
from integration_service.sync.locks import sync_lock

log = structlog.get_logger(__name__)

MAX_REPORTED_ERRORS = 10
INTERRUPTED_BY_EXIT = "interrupted: the service stopped while this sync ran (crash or restart); run it again"


def interrupted_by_silence(stale_after_s: int) -> str:
    return f"interrupted: no progress for more than {stale_after_s} s (the sync hung); run it again"


class RunClosed(Exception):
    """The run's log row was closed under it: it was given up as interrupted and must stop."""


@dataclass
class SyncResult:
    status: str = "running"
    total_records: int = 0
    synced_records: int = 0
    failed_records: int = 0
    errors: list[str] = field(default_factory=list)
    duration_ms: int = 0
    sql_statements: int = 0
    message: str = ""

    @property
    def success(self) -> bool:
        return self.status == "success"

    def record_error(self, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)


def open_run(engine: Engine, integration: RowMapping, data_type: str) -> uuid.UUID:
    """The run's `running` row. The caller holds the integration's lock, so any other `running` row of
    the integration belongs to a run that died: it is closed first."""
    with engine.begin() as connection:
        _close_as_interrupted(connection, sync_logs.c.integration_id == integration["id"], INTERRUPTED_BY_EXIT)
        log_id: uuid.UUID = connection.execute(
            sync_logs.insert()
            .values(
                integration_id=integration["id"],
                user_id=integration["user_id"],
                integration_type=integration["integration_type"],
                sync_type=data_type,
                status="running",
                heartbeat_at=func.now(),
            )
            .returning(sync_logs.c.id)
        ).scalar_one()
        connection.execute(
            credentials.update().where(credentials.c.id == integration["id"]).values(sync_status="SYNCING")
        )
    return log_id


def beat(connection: Connection, log_id: uuid.UUID, total: int, synced: int, failed: int) -> None:
    """Refresh the heartbeat and the counts so far, in the transaction that stores a page.

    Raises RunClosed (rolling the page back) when the row is no longer `running`.
    """
    refreshed = connection.execute(
        sync_logs.update()
        .where(sync_logs.c.id == log_id, sync_logs.c.status == "running")
        .values(
            heartbeat_at=func.now(),
            total_records=total,
            synced_records=synced,
            failed_records=failed,
        )
    ).rowcount
    if refreshed == 0:
        raise RunClosed("the run was closed as interrupted while it worked; nothing more is stored")


def close_run(
    engine: Engine, log_id: uuid.UUID, integration_id: uuid.UUID, result: SyncResult, account: Mapping[str, Any]
) -> bool:
    """Write the outcome; False (touching nothing) when the row was already closed as interrupted.

    `account` is the customData the run read: the watermark (`last_synced_at`) is stamped only if the
    integration still points at that account. A change during the run (another tenant, company file or
    realm) cleared it, and it stays cleared, so the next sync fetches the new account's whole history.
    """
    with engine.begin() as connection:
        closed = connection.execute(
            sync_logs.update()
            .where(sync_logs.c.id == log_id, sync_logs.c.status == "running")
            .values(
                status=result.status,
                total_records=result.total_records,
                synced_records=result.synced_records,
                failed_records=result.failed_records,
                error_message="; ".join(result.errors) or None,
                duration_ms=result.duration_ms,
                completed_at=func.now(),
            )
        ).rowcount
        if closed == 0:
            return False
        connection.execute(
            credentials.update()
            .where(credentials.c.id == integration_id)
            .values(
                sync_status="SUCCESS" if result.success else "ERROR",
                sync_error=None if result.success else result.message,
                updated_at=func.now(),
            )
        )
        if result.success:
            connection.execute(
                credentials.update()
                .where(credentials.c.id == integration_id, credentials.c.custom_data == dict(account))
                .values(last_synced_at=func.now())
            )
    return True


def close_interrupted(engine: Engine, stale_after_s: int, *, unlocked_too: bool = False) -> int:
    """Close every `running` row silent for `stale_after_s` and, with `unlocked_too`, every one whose lock is
    free (its run is dead). Returns how many."""
    silent_since = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, stale_after_s)
    with engine.connect() as connection:
        candidates = connection.execute(
            select(
                sync_logs.c.id,
                sync_logs.c.integration_id,
                (func.coalesce(sync_logs.c.heartbeat_at, sync_logs.c.created_at) < silent_since).label("silent"),
            ).where(sync_logs.c.status == "running")
        ).all()
    closed = 0
    for row in candidates:
        with sync_lock(engine, row.integration_id) as dead:
            if not row.silent and not (dead and unlocked_too):
                continue
            reason = INTERRUPTED_BY_EXIT if dead else interrupted_by_silence(stale_after_s)
            with engine.begin() as connection:
                closed += _close_as_interrupted(connection, sync_logs.c.id == row.id, reason)
    if closed:
        log.warning("interrupted syncs closed", count=closed)
    return closed


def _close_as_interrupted(connection: Connection, which: Any, reason: str) -> int:
    elapsed_ms = cast(func.extract("epoch", func.now() - sync_logs.c.created_at) * 1000, Integer)
    integration_ids = (
        connection.execute(
            sync_logs.update()
            .where(which, sync_logs.c.status == "running")
            .values(status="failed", error_message=reason, completed_at=func.now(), duration_ms=elapsed_ms)
            .returning(sync_logs.c.integration_id)
        )
        .scalars()
        .all()
    )
    for integration_id in set(integration_ids):
        connection.execute(
            credentials.update()
            .where(credentials.c.id == integration_id)
            .values(sync_status="ERROR", sync_error=reason, updated_at=func.now())
        )
    return len(integration_ids)


async def keep_closing_interrupted(engine: Engine, stale_after_s: int) -> None:
    """The periodic sweep, for runs that die or hang while this process lives (cancelled at shutdown)."""
    interval_s = min(60.0, max(1.0, stale_after_s / 4))
    while True:
        await anyio.sleep(interval_s)
        try:
            await anyio.to_thread.run_sync(close_interrupted, engine, stale_after_s)
        except Exception as exc:  # the database may be down for a while: the next round tries again
            log.warning("sweep of interrupted syncs failed", error_class=type(exc).__name__)
