"""The service's resources while a load profile runs: CPU and RSS of its processes (psutil) and the
database's connections (`pg_stat_activity`; the service exposes no pool metrics, so its pool usage is
its connection count against the pool's limit), sampled into a CSV file for the report's chart."""

from __future__ import annotations

import csv
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
import psycopg

from integration_service.db.engine import SERVICE_APPLICATION
from integration_service.settings import Settings, web_connection_limit

MONITOR_APPLICATION = "load-monitor"
_DEFAULTS = Settings.model_fields
# The load runs' service keeps the default pool settings: what its web process may hold at most.
DEFAULT_POOL_LIMIT = web_connection_limit(
    _DEFAULTS["database_pool_size"].default, _DEFAULTS["database_pool_max_overflow"].default
)


RESOURCE_COLUMNS = (
    "elapsed_s",
    "service_cpu_percent",
    "service_rss_mb",
    "db_connections",
    "service_db_connections",
    "service_db_active",
    "pool_limit",
    "pool_usage_percent",
)


class ResourceSampler:
    """Samples the service process and `pg_stat_activity` every `interval_s` into a CSV file."""

    def __init__(self, pid: int, database_url: str, csv_path: Path, interval_s: float = 2.0) -> None:
        self.process = psutil.Process(pid)
        self.database_url = database_url
        self.csv_path = csv_path
        self.interval_s = interval_s
        self.pool_limit = DEFAULT_POOL_LIMIT
        self.rows: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _processes(self) -> list[psutil.Process]:
        return [self.process, *self.process.children(recursive=True)]

    def _run(self) -> None:
        started = time.monotonic()
        with suppress(psutil.Error):
            for process in self._processes():
                process.cpu_percent(None)  # the first call only starts psutil's measurement
        with self.csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=RESOURCE_COLUMNS)
            writer.writeheader()
            connection = self._connect()
            try:
                while not self._stop.wait(self.interval_s):
                    row = {"elapsed_s": round(time.monotonic() - started, 1), **self._sample(connection)}
                    self.rows.append(row)
                    writer.writerow(row)
                    handle.flush()
            finally:
                if connection is not None:
                    connection.close()

    def _connect(self) -> psycopg.Connection[Any] | None:
        try:
            return psycopg.connect(self.database_url, autocommit=True, application_name=MONITOR_APPLICATION)
        except psycopg.Error:
            return None

    def _sample(self, connection: psycopg.Connection[Any] | None) -> dict[str, float]:
        cpu = rss = 0.0
        with suppress(psutil.Error):
            for process in self._processes():
                cpu += process.cpu_percent(None)
                rss += process.memory_info().rss / 2**20
        total = service = active = 0
        if connection is not None:
            with suppress(psycopg.Error):
                row = connection.execute(
                    "SELECT count(*),"
                    " count(*) FILTER (WHERE application_name = %(service)s),"
                    " count(*) FILTER (WHERE application_name = %(service)s AND state <> 'idle')"
                    " FROM pg_stat_activity WHERE datname = current_database()",
                    # The web process's pool, whose limit is judged; its workers and the queue have pools of their own.
                    {"service": SERVICE_APPLICATION},
                ).fetchone()
                if row is not None:
                    total, service, active = int(row[0]), int(row[1]), int(row[2])
        return {
            "service_cpu_percent": round(cpu, 1),
            "service_rss_mb": round(rss, 1),
            "db_connections": total,
            "service_db_connections": service,
            "service_db_active": active,
            "pool_limit": self.pool_limit,
            "pool_usage_percent": round(100 * service / self.pool_limit, 1),
        }

    def summary(self) -> dict[str, Any]:
        if not self.rows:
            return {"samples": 0}

        def column(name: str) -> list[float]:
            return [row[name] for row in self.rows]

        cpu = column("service_cpu_percent")
        return {
            "samples": len(self.rows),
            "cpu_cores": psutil.cpu_count(),
            "service_cpu_percent_avg": round(sum(cpu) / len(cpu), 1),
            "service_cpu_percent_peak": max(cpu),
            "service_rss_mb_peak": max(column("service_rss_mb")),
            "db_connections_peak": max(column("db_connections")),
            "service_db_connections_peak": max(column("service_db_connections")),
            "service_db_active_peak": max(column("service_db_active")),
            "pool_limit": self.pool_limit,
            "pool_usage_percent_peak": max(column("pool_usage_percent")),
        }
