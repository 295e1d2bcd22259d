"""`GET /api/version` (no token): which build runs, so that a deploy can wait for it and a report can name
it. `GET /api/config-check` (any valid token): the service's own account of its settings, names only."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from integration_service.api.dependencies import AppSettings, CurrentUser
from integration_service.api.errors import documented_errors
from integration_service.api.models import ApiModel
from integration_service.build import service_version
from integration_service.settings import Stage
from integration_service.settings_report import settings_report

router = APIRouter(tags=["health"])


class Version(ApiModel):
    version: str
    git_sha: str
    stage: Stage


class SettingState(ApiModel):
    name: str
    status: Literal["ok", "missing", "invalid"]
    problem: str | None


class ConfigCheck(ApiModel):
    stage: Stage
    settings: list[SettingState]
    cors_allowed_origins: list[str]


@router.get(
    "/api/version",
    operation_id="getVersion",
    summary="The running build",
    response_model=Version,
    responses=documented_errors(429),
)
def version(settings: AppSettings) -> Version:
    """The package version and the git commit this service was built from ("unknown" when it cannot tell)."""
    return Version(version=service_version(), git_sha=settings.build_sha, stage=settings.stage)


@router.get(
    "/api/config-check",
    operation_id="getConfigCheck",
    summary="The service's settings: present and valid, never their values",
    response_model=ConfigCheck,
    responses=documented_errors(401, 429),
)
def config_check(_user: CurrentUser, settings: AppSettings) -> ConfigCheck:
    """Each setting the stage needs, with `ok`, `missing` or `invalid` and what is wrong."""
    return ConfigCheck(
        stage=settings.stage,
        settings=[SettingState(name=c.name, status=c.status, problem=c.problem) for c in settings_report(settings)],
        cors_allowed_origins=list(settings.cors_allowed_origins),
    )
