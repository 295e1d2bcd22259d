"""Request dependencies as Annotated aliases, so routes declare what they need by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from integration_service.api.errors import Unauthorized
from integration_service.security.api_tokens import TokenVerifier
from integration_service.security.encryption import SecretBox
from integration_service.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token from `invoke token --user NAME`.")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def _token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


def _current_user(
    verifier: Annotated[TokenVerifier, Depends(_token_verifier)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise Unauthorized("an API token is required: send 'Authorization: Bearer <token>'", headers=challenge)
    user_id = verifier.user_for(credentials.credentials)
    if user_id is None:
        raise Unauthorized("the API token is invalid or revoked", headers=challenge)
    return user_id


AppSettings = Annotated[Settings, Depends(_settings)]
DatabaseEngine = Annotated[Engine, Depends(_engine)]
Secrets = Annotated[SecretBox, Depends(_secret_box)]
CurrentUser = Annotated[str, Depends(_current_user)]
