"""Request dependencies as Annotated aliases, so routes declare what they need by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from integration_service.api.errors import Unauthorized
from integration_service.api.services import Services
from integration_service.security.encryption import SecretBox
from integration_service.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token from `invoke token --user NAME`.")


# Every dependency is async, however trivial: FastAPI runs a plain `def` one on the thread pool, a thread
# hop per request for reading a field.
async def _services(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services), "create_app sets app.state.services"
    return services


AppServices = Annotated[Services, Depends(_services)]


async def _settings(services: AppServices) -> Settings:
    return services.settings


async def _engine(services: AppServices) -> Engine:
    return services.engine


async def _secret_box(services: AppServices) -> SecretBox:
    return services.secret_box


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def presented_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise Unauthorized("an API token is required: send 'Authorization: Bearer <token>'", headers=_CHALLENGE)
    return credentials.credentials


def invalid_token() -> Unauthorized:
    return Unauthorized("the API token is invalid or revoked", headers=_CHALLENGE)


async def _current_user(
    services: AppServices,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    user_id = await services.token_verifier.user_for(presented_token(credentials))
    if user_id is None:
        raise invalid_token()
    return user_id


AppSettings = Annotated[Settings, Depends(_settings)]
DatabaseEngine = Annotated[Engine, Depends(_engine)]
Secrets = Annotated[SecretBox, Depends(_secret_box)]
CurrentUser = Annotated[str, Depends(_current_user)]
# The raw `Authorization: Bearer` credentials, for a route that verifies the token inside its own query.
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
