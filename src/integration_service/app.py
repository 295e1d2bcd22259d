"""`create_app(settings)`: wiring only. `app_from_env()` is the factory uvicorn serves."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import anyio
import httpx
import structlog
from fastapi import FastAPI
from fastapi.middleware import Middleware
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from integration_service import metrics
from integration_service.api import (
    connection_tests,
    connections,
    health,
    integrations,
    logs,
    marketing,
    paypal,
    records,
    stripe,
    sync,
    version,
)
from integration_service.api.errors import install_error_handlers
from integration_service.api.middleware import (
    BodySizeLimitMiddleware,
    RateLimitMiddleware,
    RequestContextMiddleware,
)
from integration_service.api.services import Services
from integration_service.build import service_version
from integration_service.db import migrations
from integration_service.db.engine import SERVICE_APPLICATION, StatementCounter, create_database_engine
from integration_service.db.paypal_rows import known_subscription_ids
from integration_service.db.reads import create_read_pool
from integration_service.jobs.enqueue import SyncRequests
from integration_service.jobs.queue import build_queue, conninfo, open_for_deferring
from integration_service.jobs.waiting import SyncWaiter
from integration_service.providers.http import timeouts
from integration_service.providers.paypal import PayPal
from integration_service.providers.registry import sync_providers
from integration_service.security.api_tokens import TokenVerifier
from integration_service.security.encryption import SecretBox
from integration_service.security.rate_limit import RateLimiter
from integration_service.security.redaction import configure_logging
from integration_service.security.tls import provider_trust
from integration_service.settings import Settings
from integration_service.sync.engine import SyncEngine
from integration_service.sync.runs import close_interrupted, keep_closing_interrupted

if TYPE_CHECKING:
    from redis import Redis

log = structlog.get_logger(__name__)


def _lifespan(services: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What the web process opens before serving and closes after: pools, the sweep, the sync waiter."""
    settings, engine = services.settings, services.engine

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await _close_interrupted_syncs(engine, settings.sync_stale_after_s)  # before serving a request
        await services.read_pool.open(wait=False)  # connects in the background: a database down is no crash
        defer_pool = open_for_deferring(services.queue, settings)
        async with anyio.create_task_group() as background:
            background.start_soon(keep_closing_interrupted, engine, settings.sync_stale_after_s)
            background.start_soon(services.sync_waiter.listen)
            yield
            background.cancel_scope.cancel()
        services.queue.close()
        defer_pool.close()
        services.http.close()
        await services.read_pool.close()
        engine.dispose()

    return lifespan


def create_app(settings: Settings) -> FastAPI:
    configure_logging(settings.log_level)
    services = build_services(settings)
    engine = services.engine
    app = FastAPI(
        title="Integration service",
        version=service_version(),
        summary="Connects a CRM's users to Xero, MYOB, QuickBooks, Stripe, PayPal, BillionMail and Mautic.",
        docs_url=None,  # Swagger UI would need a CDN and a looser CSP; the schema is at /openapi.json
        redoc_url=None,
        lifespan=_lifespan(services),
        # First is outermost: every response, even a 413, 429 or 500, gets the security headers.
        middleware=[
            Middleware(RequestContextMiddleware, strict_transport_security=settings.stage != "local"),
            # X-Forwarded-For names the client only when a listed proxy sent it (uvicorn's own reading of
            # the header is switched off with --no-proxy-headers: it trusts 127.0.0.1 by default).
            Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_allowed_origins,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                allow_credentials=False,  # bearer tokens, not cookies
                max_age=600,
            ),
            Middleware(
                RateLimitMiddleware, limiter=RateLimiter.from_settings(settings), verifier=services.token_verifier
            ),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes),
        ],
    )
    app.state.services = services  # routes read it through api/dependencies.py's AppServices
    install_error_handlers(app)
    metrics.install(app, engine, settings.database_pool_size + settings.database_pool_max_overflow, services.read_pool)
    app.include_router(integrations.collection)  # first: the busiest route (api/integrations.py)
    app.include_router(health.router)
    app.include_router(version.router)
    # Fixed paths before /api/integrations/{integration_id}, which would otherwise claim them.
    app.include_router(logs.router)
    app.include_router(sync.router)
    app.include_router(records.router)
    app.include_router(stripe.router)
    app.include_router(paypal.router)
    app.include_router(marketing.router)
    app.include_router(connections.router)
    app.include_router(connection_tests.router)  # /{integration_id}/test: a sub-path, safe after
    app.include_router(integrations.router)
    return app


def build_services(settings: Settings, application_name: str = SERVICE_APPLICATION) -> Services:
    """The service's parts, for the web app and for a worker (integration_service/worker.py)."""
    engine = create_database_engine(settings, application_name)
    read_pool = create_read_pool(settings, application_name)
    http = httpx.Client(
        timeout=timeouts(settings), verify=provider_trust(settings.provider_ca_bundle), follow_redirects=False
    )
    providers = sync_providers(settings)
    paypal_provider = providers[PayPal.integration_type]
    if isinstance(paypal_provider, PayPal):  # PayPal cannot list subscriptions: its sync asks the database
        paypal_provider.known_subscriptions = partial(known_subscription_ids, engine)
    secret_box = SecretBox(settings.encryption_keys)
    redis_url = settings.redis_url
    sync_engine = SyncEngine(engine, secret_box, settings, providers, http, StatementCounter(engine))
    queue = build_queue(settings)
    return Services(
        settings=settings,
        engine=engine,
        read_pool=read_pool,
        secret_box=secret_box,
        token_verifier=TokenVerifier(read_pool),
        http=http,
        providers=providers,
        sync_engine=sync_engine,
        queue=queue,
        sync_requests=SyncRequests(engine, sync_engine, queue, settings.sync_queue),
        sync_waiter=SyncWaiter(engine, conninfo(settings)),
        head_revision=migrations.head_revision(),
        redis=None if redis_url is None else _redis_client(redis_url.get_secret_value()),
    )


def _redis_client(url: str) -> Redis:
    from redis import Redis  # imported only where Redis is configured: 4 MB a process without it never needs

    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


async def _close_interrupted_syncs(engine: Engine, stale_after_s: int) -> None:
    """The startup sweep: runs a crash or restart cut short are closed as interrupted (contract C7)."""
    try:
        await anyio.to_thread.run_sync(partial(close_interrupted, engine, stale_after_s, unlocked_too=True))
    except Exception as exc:  # a database that is down must not keep the service (and its health route) down
        log.error("startup sweep of interrupted syncs failed", error_class=type(exc).__name__)


def app_from_env() -> FastAPI:
    """The app a served process runs. What is built by now (modules, routes, models: ~10^5 objects) lives as
    long as the process, so it is frozen out of the collector's reach: a full collection no longer walks it
    between requests (measured under saturation: list p99 ~130 -> 40-55 ms, throughput +15 %; issue 16). Not in
    create_app: a process that builds many apps (the tests) would keep whatever they left behind."""
    app = create_app(Settings())
    gc.collect()
    gc.freeze()
    return app
