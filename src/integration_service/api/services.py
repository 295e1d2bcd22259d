"""What the API is served with: built once by `create_app`, handed to routes by one dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import redis
from sqlalchemy import Engine

from integration_service.providers.base import SyncProvider
from integration_service.security.api_tokens import TokenVerifier
from integration_service.security.encryption import SecretBox
from integration_service.settings import Settings
from integration_service.sync.engine import SyncEngine

P = TypeVar("P", bound=SyncProvider[Any])


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    secret_box: SecretBox
    token_verifier: TokenVerifier
    http: httpx.Client  # every provider call goes through it (timeouts, the provider CA bundle)
    providers: dict[str, SyncProvider[Any]]  # by integration type (XERO, STRIPE, ...)
    sync_engine: SyncEngine
    head_revision: str  # the migration the code expects: /api/health compares the database's
    redis: redis.Redis | None

    def provider(self, kind: type[P]) -> P:
        """The one instance of a provider class."""
        found = self.providers[kind.integration_type]
        assert isinstance(found, kind)
        return found
