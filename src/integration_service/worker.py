"""A sync worker: `python -m integration_service.worker [--concurrency N]` (or `invoke worker`).

Runs queued and scheduled syncs from the service's PostgreSQL (procrastinate), as many at once as
`--concurrency` (default and maximum SYNC_MAX_CONCURRENT, which the settings keep below the pool). Start N
of them on M machines against one database: each job runs once; a worker that dies mid-sync is noticed by
the others after WORKER_STALLED_AFTER_S and its job retried. SIGTERM/Ctrl-C stop it after its running jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import procrastinate
import structlog

from integration_service.app import build_services
from integration_service.db.engine import WORKER_APPLICATION
from integration_service.jobs.tasks import CONTEXT_KEY, WorkerContext
from integration_service.security.redaction import configure_logging
from integration_service.settings import ConfigurationError, Settings

log = structlog.get_logger(__name__)
RESTART_WAIT_S = 2.0


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    configure_logging(settings.log_level)
    slots = settings.sync_max_concurrent
    concurrency = concurrency or slots
    if not 1 <= concurrency <= slots:
        raise ConfigurationError(
            f"--concurrency {concurrency}: a worker runs 1 to SYNC_MAX_CONCURRENT={slots} syncs at once (each holds "
            "database connections; raise SYNC_MAX_CONCURRENT with the pool, or start more workers)"
        )
    services = build_services(settings, WORKER_APPLICATION)
    context = WorkerContext(services.engine, services.sync_engine, services.sync_requests, settings)
    try:
        while not asyncio.run(_work(services.queue, context, concurrency)):
            # procrastinate stops a worker whose database connection broke (a restart, a failover): begin again.
            log.error("sync worker stopped without being asked to; starting again", wait_s=RESTART_WAIT_S)
            time.sleep(RESTART_WAIT_S)
    finally:
        services.http.close()
        services.engine.dispose()


async def _work(queue: procrastinate.App, context: WorkerContext, concurrency: int) -> bool:
    """Run the worker until SIGTERM/SIGINT (True: stop for good) or until it stops by itself (False)."""
    stalled_after = context.settings.worker_stalled_after_s
    log.info("sync worker starting", concurrency=concurrency, stalled_after_s=stalled_after)
    loop = asyncio.get_running_loop()
    # Sync tasks run on the loop's default executor: one thread per job it may run, and one for the ticks.
    loop.set_default_executor(ThreadPoolExecutor(concurrency + 1, "sync"))
    asked_to_stop = asyncio.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, asked_to_stop.set)
    try:
        async with queue.open_async():
            worker = asyncio.create_task(
                queue.run_worker_async(
                    queues=[context.settings.sync_queue],
                    concurrency=concurrency,
                    additional_context={CONTEXT_KEY: context},
                    update_heartbeat_interval=max(1.0, stalled_after / 3),
                    stalled_worker_timeout=stalled_after,
                    delete_jobs="successful",  # the sync log keeps the history; the queue keeps what is left to do
                    install_signal_handlers=False,
                )
            )
            stop = asyncio.create_task(asked_to_stop.wait())
            await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if asked_to_stop.is_set():
                worker.cancel()  # procrastinate lets its running jobs finish first
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    except Exception as exc:  # what stopped it (a broken connection, a schema that went away): said, then again
        log.error("sync worker stopped on an error", error_class=type(exc).__name__, error=str(exc)[:300])
    return asked_to_stop.is_set()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m integration_service.worker", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=None, help="syncs at once (default SYNC_MAX_CONCURRENT)")
    arguments = parser.parse_args()
    run_worker(Settings(), arguments.concurrency)


if __name__ == "__main__":
    main()
