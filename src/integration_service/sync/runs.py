"""A sync run's log row: `queued` when its job is queued (jobs/enqueue.py), `running` once a worker holds the
integration's lock, kept alive by a heartbeat, closed once with the truth; the close is announced (NOTIFY
on FINISHED_CHANNEL) to a request waiting for it.

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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio
import structlog
from sqlalchemy import Connection, Engine, Integer, RowMapping, cast, func, select, text

from integration_service.db.schema import integrations_credentials as credentials
from integration_service.db.schema import integrations_sync_logs as sync_logs
from integration_service.sync.locks import sync_lock
from integration_service.sync.schedule import SyncSchedule

log = structlog.get_logger(__name__)

MAX_REPORTED_ERRORS = 10
LOST_FROM_QUEUE = "not run: its job left the queue without running it; run it again"
QUEUED_GRACE_S = 60
FINISHED_CHANNEL = "sync_finished"  # NOTIFY payload: the log id of a run that ended
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


def open_run(engine: Engine, integration: RowMapping, data_type: str, queued_id: uuid.UUID | None = None) -> uuid.UUID:
    """The run's `running` row: its `queued` row when it still is one, else a new row (a retry's).

    The caller holds the integration's lock, so any other open row of the integration belongs to a run that
    died (a worker killed mid-sync whose job is now retried): it is closed first, as interrupted.
    """
    with engine.begin() as connection:
        if queued_id is not None:
            adopted = connection.execute(
                sync_logs.update()
                .where(sync_logs.c.id == queued_id, sync_logs.c.status == "queued")
                .values(status="running", heartbeat_at=func.now())
            ).rowcount
            if adopted:
                _mark_syncing(connection, integration["id"])
                return queued_id
        _close_as_interrupted(connection, sync_logs.c.integration_id == integration["id"], INTERRUPTED_BY_EXIT)
        earlier = (
            None
            if queued_id is None
            else connection.execute(
                select(sync_logs.c.job_id, sync_logs.c.trigger).where(sync_logs.c.id == queued_id)
            ).one_or_none()
        )
        log_id: uuid.UUID = connection.execute(
            sync_logs.insert()
            .values(
                integration_id=integration["id"],
                user_id=integration["user_id"],
                integration_type=integration["integration_type"],
                sync_type=data_type,
                status="running",
                heartbeat_at=func.now(),
                **({} if earlier is None else {"job_id": earlier.job_id, "trigger": earlier.trigger}),
            )
            .returning(sync_logs.c.id)
        ).scalar_one()
        _mark_syncing(connection, integration["id"])
    return log_id


def _mark_syncing(connection: Connection, integration_id: uuid.UUID) -> None:
    connection.execute(credentials.update().where(credentials.c.id == integration_id).values(sync_status="SYNCING"))


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
    engine: Engine,
    log_id: uuid.UUID,
    integration_id: uuid.UUID,
    result: SyncResult,
    account: Mapping[str, Any],
    schedule: SyncSchedule,
) -> bool:
    """Write the outcome (and when the integration syncs next); False, touching nothing, when the row was
    already closed as interrupted.

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
                outcome=asdict(result),
            )
        ).rowcount
        if closed == 0:
            return False
        connection.execute(
            credentials.update()
            .where(credentials.c.id == integration_id)
            .values(updated_at=func.now(), **schedule.after_run(result.status, result.message))
        )
        if result.success:
            connection.execute(
                credentials.update()
                .where(credentials.c.id == integration_id, credentials.c.custom_data == dict(account))
                .values(last_synced_at=func.now())
            )
        _announce(connection, [log_id])
    return True


def close_queued(engine: Engine, log_id: uuid.UUID, reason: str) -> None:
    """A queued run that will not run (its job could not be queued, or it was refused when its turn came)."""
    with engine.begin() as connection:
        closed = connection.execute(
            sync_logs.update()
            .where(sync_logs.c.id == log_id, sync_logs.c.status == "queued")
            .values(status="failed", error_message=reason, completed_at=func.now(), duration_ms=0)
        ).rowcount
        if closed:
            _announce(connection, [log_id])


def _announce(connection: Connection, log_ids: Sequence[uuid.UUID]) -> None:
    """Tell whoever waits for these runs (jobs/waiting.py) that they ended: delivered when the transaction commits."""
    for log_id in log_ids:
        connection.execute(select(func.pg_notify(FINISHED_CHANNEL, str(log_id))))


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
    closed = _close_lost_queued(engine)
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


def _close_lost_queued(engine: Engine) -> int:
    """Close `queued` rows whose job is gone or ended without running them (a queue restored from a backup, a
    job deleted by hand): nothing will ever run them. A minute's grace covers the moment between row and job."""
    with engine.begin() as connection:
        ids = (
            connection.execute(
                text(
                    "UPDATE integrations_sync_logs AS log SET status = 'failed', completed_at = now(), duration_ms = 0,"
                    " error_message = :reason WHERE log.status = 'queued'"
                    " AND log.created_at < now() - make_interval(secs => :grace_s) AND NOT EXISTS ("
                    "  SELECT 1 FROM procrastinate_jobs AS job WHERE job.id = log.job_id"
                    "  AND job.status IN ('todo', 'doing')) RETURNING log.id"
                ),
                {"reason": LOST_FROM_QUEUE, "grace_s": QUEUED_GRACE_S},
            )
            .scalars()
            .all()
        )
        _announce(connection, ids)
    return len(ids)


def close_given_up_job(engine: Engine, job_id: int, reason: str, schedule: SyncSchedule) -> int:
    """Close the open run of a sync job given up (its workers kept dying): failed, and a failure to the schedule
    (back-off, then pause), so that the next tick does not queue the same doomed run at once. Returns how many."""
    with engine.begin() as connection:
        closed = connection.execute(
            sync_logs.update()
            .where(sync_logs.c.job_id == job_id, sync_logs.c.status.in_(("queued", "running")))
            .values(status="failed", error_message=reason, completed_at=func.now(), duration_ms=_elapsed_ms())
            .returning(sync_logs.c.id, sync_logs.c.integration_id)
        ).all()
        for row in closed:
            connection.execute(
                credentials.update()
                .where(credentials.c.id == row.integration_id)
                .values(updated_at=func.now(), **schedule.after_run("failed", reason))
            )
        _announce(connection, [row.id for row in closed])
    return len(closed)


def _elapsed_ms() -> Any:
    return cast(func.extract("epoch", func.now() - sync_logs.c.created_at) * 1000, Integer)


def _close_as_interrupted(connection: Connection, which: Any, reason: str) -> int:
    closed = connection.execute(
        sync_logs.update()
        .where(which, sync_logs.c.status == "running")
        .values(status="failed", error_message=reason, completed_at=func.now(), duration_ms=_elapsed_ms())
        .returning(sync_logs.c.id, sync_logs.c.integration_id)
    ).all()
    integration_ids = [row.integration_id for row in closed]
    _announce(connection, [row.id for row in closed])
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
