"""What the API is served with: built once by `create_app`, handed to routes by one dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import procrastinate
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine

from integration_service.jobs.enqueue import SyncRequests
from integration_service.jobs.waiting import SyncWaiter
from integration_service.providers.base import SyncProvider
from integration_service.security.api_tokens import TokenVerifier
from integration_service.security.encryption import SecretBox
from integration_service.settings import Settings
from integration_service.sync.engine import SyncEngine

if TYPE_CHECKING:
    from redis import Redis

P = TypeVar("P", bound=SyncProvider[Any])


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    read_pool: AsyncConnectionPool  # the hot read path, on the event loop (db/reads.py): opened by the app
    secret_box: SecretBox
    token_verifier: TokenVerifier
    http: httpx.Client  # every provider call goes through it (timeouts, the provider CA bundle)
    providers: dict[str, SyncProvider[Any]]  # by integration type (XERO, STRIPE, ...)
    sync_engine: SyncEngine
    queue: procrastinate.App  # the job queue (jobs/queue.py): opened by the app's lifespan or the worker
    sync_requests: SyncRequests  # puts syncs on the queue
    sync_waiter: SyncWaiter  # hears when they end (web process)
    head_revision: str  # the migration the code expects: /api/health compares the database's
    redis: Redis | None

    def provider(self, kind: type[P]) -> P:
        """The one instance of a provider class."""
        found = self.providers[kind.integration_type]
        assert isinstance(found, kind)
        return found
