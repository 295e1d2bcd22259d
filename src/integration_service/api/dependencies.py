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


def _services(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services), "create_app sets app.state.services"
    return services


AppServices = Annotated[Services, Depends(_services)]


def _settings(services: AppServices) -> Settings:
    return services.settings


def _engine(services: AppServices) -> Engine:
    return services.engine


def _secret_box(services: AppServices) -> SecretBox:
    return services.secret_box


def _current_user(
    services: AppServices,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise Unauthorized("an API token is required: send 'Authorization: Bearer <token>'", headers=challenge)
    user_id = services.token_verifier.user_for(credentials.credentials)
    if user_id is None:
        raise Unauthorized("the API token is invalid or revoked", headers=challenge)
    return user_id


AppSettings = Annotated[Settings, Depends(_settings)]
DatabaseEngine = Annotated[Engine, Depends(_engine)]
Secrets = Annotated[SecretBox, Depends(_secret_box)]
CurrentUser = Annotated[str, Depends(_current_user)]
