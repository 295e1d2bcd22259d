"""Prometheus metrics at `/metrics`: what `invoke monitor` and a Prometheus server watch.

One ASGI middleware observes every response (so requests, sync runs, webhook latency and rate-limit
rejections need no edits in the routes); token refreshes are counted where they happen; the database
pool is read when scraped. Like `/api/health`, `/metrics` needs no token and is not rate limited:
expose it to the monitoring network only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integration_service.db.token_refreshes import refresh_counts

REQUESTS = Counter(
    "integration_http_requests_total", "HTTP requests by method, route and status", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram("integration_http_request_seconds", "HTTP request duration", ["method", "route"])
SYNC_RUNS = Counter(
    "integration_sync_runs_total", "Sync requests by outcome (success, failed, conflict, error)", ["status"]
)
WEBHOOK_SECONDS = Histogram(
    "integration_webhook_processing_seconds",
    "Time from receiving a webhook to answering it (verify, store, apply)",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMITED = Counter("integration_rate_limit_rejections_total", "Requests refused with 429 by the rate limiter")
TOKEN_LOOKUPS = Counter(
    "integration_api_token_lookups_total",
    "API tokens looked up in the database, by result (live, unknown): a flood of forged ones shows here",
    ["result"],
)
for _result in ("live", "unknown"):
    TOKEN_LOOKUPS.labels(_result)  # the series exist from the start, at 0, so a rate can be taken at once
POOL_IN_USE = Gauge("integration_db_pool_in_use", "Database connections checked out of the pool")
POOL_SIZE = Gauge("integration_db_pool_size", "Database pool capacity (pool size + max overflow)")

_SYNC_OUTCOMES = {200: "success", 502: "failed", 409: "conflict"}


def track_pool(engine: Engine, capacity: int, reads: AsyncConnectionPool | None = None) -> None:
    """Read the pools at scrape time (the last app created in a process is the one reported): the engine's,
    and the hot read path's (db/reads.py), counted together as the web process's connections."""
    pool = engine.pool

    def in_use() -> float:
        checked_out = float(getattr(pool, "checkedout", lambda: 0)())
        if reads is None:
            return checked_out
        stats = reads.get_stats()
        return checked_out + stats.get("pool_size", 0) - stats.get("pool_available", 0)

    POOL_IN_USE.set_function(in_use)
    POOL_SIZE.set(capacity + (0 if reads is None else reads.max_size))


def route_label(scope: Scope) -> str:
    """The matched route's template: a bounded label. Paths that match no route share one label, so a
    scanner requesting random paths cannot grow the metrics without limit."""
    route = scope.get("route")
    return str(getattr(route, "path", "<unmatched>"))


class MetricsMiddleware:
    """Count and time every HTTP response; outermost, so it sees 413s and 429s too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self._record(scope["method"], scope["path"], route_label(scope), status, time.perf_counter() - started)

    @staticmethod
    def _record(method: str, path: str, route: str, status: int, seconds: float) -> None:
        REQUESTS.labels(method, route, str(status)).inc()
        REQUEST_SECONDS.labels(method, route).observe(seconds)
        if status == 429:
            RATE_LIMITED.inc()
        if method == "POST" and path == "/api/integrations/sync":
            SYNC_RUNS.labels(_SYNC_OUTCOMES.get(status, "error")).inc()
        if method == "POST" and path.endswith("/webhook"):
            WEBHOOK_SECONDS.labels(path.rstrip("/").split("/")[-2]).observe(seconds)


async def _scrape(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class TokenRefreshes(Collector):
    """`integration_token_refreshes_total{result}` from the database at scrape time: workers refresh tokens as
    well as the web process, and count them there (db/token_refreshes.py)."""

    engine: Engine | None = None  # the last app created in a process is the one reported

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "integration_token_refreshes", "OAuth token refreshes by result", labels=["result"]
        )
        if self.engine is not None:
            with suppress(SQLAlchemyError), self.engine.connect() as connection:
                for result, count in sorted(refresh_counts(connection).items()):
                    family.add_metric([result], float(count))
        yield family


_TOKEN_REFRESHES = TokenRefreshes()
REGISTRY.register(_TOKEN_REFRESHES)


def install(app: FastAPI, engine: Engine, pool_capacity: int, reads: AsyncConnectionPool | None = None) -> None:
    """Serve `/metrics` (no token, like health) and observe every response."""
    track_pool(engine, pool_capacity, reads)
    _TOKEN_REFRESHES.engine = engine
    app.add_middleware(MetricsMiddleware)  # added last: the outermost layer
    app.add_route("/metrics", _scrape, include_in_schema=False)
