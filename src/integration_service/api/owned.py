"""The caller's integration of a given type: the one lookup every route acting on an integration uses.

Another user's integration, a missing one and one of another type all answer the same 404: an id
says nothing about integrations that are not the caller's, and a route for one provider has nothing
to do with another's. A disabled integration is a 409.

The lookup is a dependency that routes call with the id they were given, rather than a dependency
resolving the id itself, because many routes take the id in their JSON body: FastAPI resolves a
dependency before it validates the body, which would turn an invalid request's 422 into a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends
from sqlalchemy import RowMapping

from integration_service.api.dependencies import AppServices, CurrentUser
from integration_service.api.errors import Conflict, NotFound
from integration_service.api.services import Services
from integration_service.db import credentials
from integration_service.providers.base import Linked, SyncProvider

P = TypeVar("P", bound=SyncProvider[Any])


@dataclass(frozen=True)
class Owned(Generic[P]):
    """An active integration of the caller's, its provider, and the integration as provider calls need it."""

    row: RowMapping  # the public columns (db/credentials.py): never the ciphertexts
    provider: P
    linked: Linked


def ensure_active(row: RowMapping, doing: str = "first") -> None:
    if not row["is_active"]:
        raise Conflict(f"the integration is disabled; enable it (isActive) {doing}")


@dataclass(frozen=True)
class CallersIntegrations:
    user_id: str
    services: Services

    def get(self, integration_id: uuid.UUID, integration_type: str | None = None) -> RowMapping:
        """The caller's integration (of that type, when one is named); a 404 otherwise."""
        with self.services.engine.connect() as connection:
            row = credentials.get(connection, self.user_id, integration_id)
        if row is None or (integration_type is not None and row["integration_type"] != integration_type):
            raise NotFound(f"integration {integration_id} not found")
        return row

    def active(self, integration_id: uuid.UUID, kind: type[P]) -> Owned[P]:
        """The caller's integration of this provider, which must be enabled."""
        provider = self.services.provider(kind)
        row = self.get(integration_id, provider.integration_type)
        ensure_active(row)
        return Owned(row, provider, Linked(integration_id, self.user_id, dict(row["custom_data"])))


async def _callers_integrations(user_id: CurrentUser, services: AppServices) -> CallersIntegrations:
    return CallersIntegrations(user_id, services)


OwnedIntegration = Annotated[CallersIntegrations, Depends(_callers_integrations)]
