"""Putting a sync on the queue: a `queued` log row first, then its job.

The row comes first so that the one-open-sync-per-integration rule is the database's (a unique index over
`queued` and `running` rows): of two requests at once, one gets the row, the other a `running` refusal
(409), whether the first is still queued or already running. A job whose row was never written cannot
exist; a row whose job could not be deferred is closed `failed` at once, and one whose job was lost later
is closed by the sweep (sync/runs.py `close_interrupted`).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Literal

import anyio
import procrastinate
import psycopg
import structlog
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from integration_service.db.schema import integrations_sync_logs as sync_logs
from integration_service.sync.engine import SyncEngine, SyncRefused
from integration_service.sync.runs import close_queued

log = structlog.get_logger(__name__)

SYNC_TASK = "sync_integration"
SCHEDULE_TASK = "schedule_due_syncs"
RECOVER_TASK = "retry_stalled_syncs"
Trigger = Literal["request", "schedule"]


@dataclass(frozen=True)
class SyncJob:
    """What a sync job is given (its procrastinate arguments: JSON, so strings)."""

    log_id: str
    user_id: str
    integration_id: str
    data_type: str
    full: bool


class SyncRequests:
    def __init__(self, engine: Engine, sync_engine: SyncEngine, queue: procrastinate.App, queue_name: str) -> None:
        self.engine = engine
        self.sync_engine = sync_engine
        self.queue = queue
        self.queue_name = queue_name
        # Requests enqueueing at once in a web process (each takes pooled connections one after another): a
        # burst of sync requests waits here, on the event loop, rather than in the pool, where it would hold
        # every connection other routes need and time out there (503) on a busy machine.
        self.admission = anyio.CapacityLimiter(max(1, sync_engine.settings.database_pool_size // 2))

    def enqueue(
        self, user_id: str, integration_id: uuid.UUID, data_type: str, full: bool, trigger: Trigger = "request"
    ) -> uuid.UUID:
        """The queued run's log id; SyncRefused when it cannot run (`running` when one is open already)."""
        integration = self.sync_engine.check(user_id, integration_id, data_type)
        log_id = self._open_queued_row(integration["integration_type"], user_id, integration_id, data_type, trigger)
        job = SyncJob(str(log_id), user_id, str(integration_id), data_type, full)
        try:
            job_id = self.queue.configure_task(SYNC_TASK, queue=self.queue_name).defer(**asdict(job))
        except Exception as exc:  # the queue's tables or connection: the row must not stay queued for nothing
            log.error(
                "sync job could not be queued", integration_id=str(integration_id), error_class=type(exc).__name__
            )
            close_queued(self.engine, log_id, "not run: the job queue could not be reached; try again")
            raise SyncRefused("busy", "the sync queue cannot be reached right now; try again shortly") from None
        with self.engine.begin() as connection:
            connection.execute(sync_logs.update().where(sync_logs.c.id == log_id).values(job_id=job_id))
        return log_id

    def workers_alive(self) -> bool:
        """Whether a worker beat recently (procrastinate's heartbeat): else a queued sync waits for nobody."""
        with self.engine.connect() as connection:
            alive = connection.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM procrastinate_workers"
                    " WHERE last_heartbeat > now() - make_interval(secs => :seconds))"
                ),
                {"seconds": self.sync_engine.settings.worker_stalled_after_s},
            ).scalar_one()
        return bool(alive)

    def _open_queued_row(
        self, integration_type: str, user_id: str, integration_id: uuid.UUID, data_type: str, trigger: Trigger
    ) -> uuid.UUID:
        try:
            with self.engine.begin() as connection:
                log_id: uuid.UUID = connection.execute(
                    sync_logs.insert()
                    .values(
                        integration_id=integration_id,
                        user_id=user_id,
                        integration_type=integration_type,
                        sync_type=data_type,
                        status="queued",
                        trigger=trigger,
                    )
                    .returning(sync_logs.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            if isinstance(exc.orig, psycopg.errors.ForeignKeyViolation):
                raise SyncRefused("not_found", f"integration {integration_id} not found") from None
            if isinstance(exc.orig, psycopg.errors.UniqueViolation):
                raise SyncRefused("running", self._already_open(integration_id)) from None
            raise
        return log_id

    def _already_open(self, integration_id: uuid.UUID) -> str:
        """The refusal's message, naming the open run's log so that the caller can follow it instead."""
        with self.engine.connect() as connection:
            open_id = connection.execute(
                select(sync_logs.c.id).where(
                    sync_logs.c.integration_id == integration_id, sync_logs.c.status.in_(("queued", "running"))
                )
            ).scalar_one_or_none()
        where = f": GET /api/integrations/logs/{open_id} says how it ends" if open_id else ""
        return f"a sync of this integration is already running (or queued){where}"
