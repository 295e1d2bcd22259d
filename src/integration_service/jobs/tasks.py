"""What a worker runs: a sync, the scheduler's tick, the recovery of jobs whose worker died.

The bodies take the service's parts from the worker's context (`WorkerContext`, built by
integration_service/worker.py) and are registered on the queue by jobs/queue.py.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import anyio
import structlog
from procrastinate import JobContext
from procrastinate.jobs import Job, Status
from sqlalchemy import Engine, exists, literal, or_, select, update

from integration_service.db.schema import integrations_credentials as credentials
from integration_service.db.schema import integrations_sync_logs as sync_logs
from integration_service.jobs.enqueue import SYNC_TASK, SyncRequests
from integration_service.settings import Settings
from integration_service.sync.engine import SyncEngine, SyncRefused
from integration_service.sync.runs import close_given_up_job, close_queued
from integration_service.sync.schedule import SyncSchedule

log = structlog.get_logger(__name__)

CONTEXT_KEY = "integration_service"
DUE_PER_TICK = 200  # a tick queues at most this many; the next tick takes the rest
# A sync's lock can be held for a moment by something else (a delete, the sweep testing a dead run's lock).
LOCK_ATTEMPTS, LOCK_WAIT_S = 20, 0.5
# Refusals that will not go away by waiting: the integration is skipped until its next interval.
LASTING_REFUSALS = frozenset({"not_found", "inactive", "not_connected", "unsupported"})
MAX_WORKER_DEATHS = 3  # a sync job is tried this many times when its worker dies under it, then given up


@dataclass(frozen=True)
class WorkerContext:
    engine: Engine
    sync_engine: SyncEngine
    requests: SyncRequests
    settings: Settings


def worker_context(job: JobContext) -> WorkerContext:
    context = job.additional_context[CONTEXT_KEY]
    assert isinstance(context, WorkerContext)
    return context


def run_sync(job: JobContext, *, log_id: str, user_id: str, integration_id: str, data_type: str, full: bool) -> str:
    """Run one queued sync; its outcome is in its log row (and the job's result says the status)."""
    context = worker_context(job)
    queued_id = uuid.UUID(log_id)
    if superseded(context.engine, queued_id):
        return "not run (superseded)"
    for attempt in range(LOCK_ATTEMPTS):
        try:
            result = context.sync_engine.run(user_id, uuid.UUID(integration_id), data_type, full, queued_id)
        except SyncRefused as refused:
            if refused.reason == "running" and attempt + 1 < LOCK_ATTEMPTS:
                time.sleep(LOCK_WAIT_S)
                continue
            close_queued(context.engine, queued_id, f"not run: {refused.message}")
            return f"not run ({refused.reason})"
        return result.status
    raise AssertionError("unreachable: the last attempt returns")


def superseded(engine: Engine, log_id: uuid.UUID) -> bool:
    """A retried job whose run was closed meanwhile (given up as interrupted) and followed by a newer run of the
    integration, of another job: that run did what this one was for. (The job's own later attempts, whose worker
    died too, do not count: the job runs again.)"""
    later = sync_logs.alias("later")
    with engine.connect() as connection:
        found = connection.execute(
            select(later.c.id)
            .select_from(sync_logs.join(later, later.c.integration_id == sync_logs.c.integration_id))
            .where(
                sync_logs.c.id == log_id,
                sync_logs.c.status.not_in(("queued", "running")),
                later.c.created_at > sync_logs.c.created_at,
                later.c.job_id.is_distinct_from(sync_logs.c.job_id),
            )
            .limit(1)
        ).first()
    return found is not None


def enqueue_due_syncs(job: JobContext, timestamp: int) -> int:
    """The scheduler's tick: queue a sync of every integration whose time has come. Returns how many."""
    context = worker_context(job)
    schedule = context.sync_engine.schedule
    open_run = exists().where(
        sync_logs.c.integration_id == credentials.c.id, sync_logs.c.status.in_(("queued", "running"))
    )
    with context.engine.connect() as connection:
        due = connection.execute(
            select(credentials.c.id, credentials.c.user_id)
            .where(
                schedule.is_due(),
                credentials.c.integration_type.in_(context.sync_engine.providers),
                or_(credentials.c.access_token_encrypted.is_not(None), credentials.c.api_key_encrypted.is_not(None)),
                ~open_run,
            )
            .order_by(credentials.c.next_sync_at.asc().nulls_first())
            .limit(DUE_PER_TICK)
        ).all()
    queued = 0
    for integration_id, user_id in due:
        try:
            context.requests.enqueue(user_id, integration_id, "all", False, trigger="schedule")
            queued += 1
        except SyncRefused as refused:
            if refused.reason in LASTING_REFUSALS:
                _postpone(context.engine, integration_id, schedule)
    if queued:
        log.info("scheduled syncs queued", count=queued, due=len(due))
    return queued


def _postpone(engine: Engine, integration_id: uuid.UUID, schedule: SyncSchedule) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(credentials)
            .where(credentials.c.id == integration_id)
            .values(next_sync_at=schedule.next_at(literal(0)))
        )


async def retry_stalled_syncs(job: JobContext, timestamp: int) -> int:
    """Sync jobs of a worker that stopped beating (killed, machine gone) go back to the queue for another."""
    context = worker_context(job)
    manager = job.app.job_manager
    stalled = await manager.get_stalled_jobs(
        queue=context.settings.sync_queue,
        task_name=SYNC_TASK,
        seconds_since_heartbeat=context.settings.worker_stalled_after_s,
    )
    for stalled_job in stalled:
        if stalled_job.attempts + 1 >= MAX_WORKER_DEATHS:
            await _give_up(context, job, stalled_job)
            continue
        log.warning("sync job of a dead worker retried", job_id=stalled_job.id, attempts=stalled_job.attempts)
        await manager.retry_job(stalled_job)
    return len(list(stalled))


async def _give_up(context: WorkerContext, job: JobContext, stalled_job: Job) -> None:
    """A job whose every worker died running it (e.g. killed for memory by the sync it runs): retrying would kill
    the next worker too. Its run is closed failed, and the job ends failed (kept in the queue's table)."""
    assert stalled_job.id is not None
    reason = (
        f"interrupted: the workers running it died {MAX_WORKER_DEATHS} times in a row; given up (what was stored "
        "is kept; look at the workers' logs and memory, then sync again)"
    )
    log.error("sync job given up: its workers kept dying", job_id=stalled_job.id, deaths=MAX_WORKER_DEATHS)
    schedule = context.sync_engine.schedule
    await anyio.to_thread.run_sync(close_given_up_job, context.engine, stalled_job.id, reason, schedule)
    await job.app.job_manager.finish_job(stalled_job, status=Status.FAILED, delete_job=False)
