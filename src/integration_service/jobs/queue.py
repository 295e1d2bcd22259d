"""The job queue: procrastinate on the service's PostgreSQL, its tasks and periodic tasks.

Every process builds its own `App` with `build_queue(settings)` (the web process to defer jobs, a worker
to run them); the task bodies live in jobs/tasks.py and take what they work with from the worker's
context (`WorkerContext`), so this module stays free of the service's wiring.
"""

from __future__ import annotations

import procrastinate
import psycopg_pool
from sqlalchemy.engine import make_url

from integration_service.db.engine import QUEUE_APPLICATION
from integration_service.jobs import tasks
from integration_service.jobs.enqueue import RECOVER_TASK, SCHEDULE_TASK, SYNC_TASK
from integration_service.settings import Settings


def conninfo(settings: Settings) -> str:
    """DATABASE_URL in libpq's form (no SQLAlchemy driver suffix), for procrastinate's psycopg pool."""
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    url = url.update_query_dict({"application_name": QUEUE_APPLICATION})
    return url.render_as_string(hide_password=False)


def build_queue(settings: Settings) -> procrastinate.App:
    """The queue's app with every task registered (a worker opens it with `open_async`: its own pool)."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(settings), min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)
    queue = settings.sync_queue
    every_tick = f"* * * * * */{settings.sync_schedule_tick_s}"
    app.task(name=SYNC_TASK, queue=queue, pass_context=True)(tasks.run_sync)
    # Each queue's workers tick on their own (a deployment has one queue; the harness gives a service started
    # with settings of its own a queue of its own, and its ticks must not wait on another queue's workers).
    for name, body in ((SCHEDULE_TASK, tasks.enqueue_due_syncs), (RECOVER_TASK, tasks.retry_stalled_syncs)):
        periodic = app.task(name=name, queue=queue, pass_context=True, queueing_lock=f"{name}:{queue}")(body)
        app.periodic(cron=every_tick, periodic_id=queue)(periodic)
    return app


def open_for_deferring(app: procrastinate.App, settings: Settings) -> psycopg_pool.ConnectionPool:
    """Open `app` to defer jobs from synchronous code (the web process) on a small pool that connects in the
    background: a database that is down at startup must not keep the service (and its health route) down.
    Close the returned pool at shutdown."""
    pool = psycopg_pool.ConnectionPool(
        conninfo(settings), min_size=1, max_size=4, open=False, check=psycopg_pool.ConnectionPool.check_connection
    )
    pool.open(wait=False)
    app.open(pool)
    return pool
