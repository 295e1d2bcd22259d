"""Stages the harness targets, and the configuration each one reads.

`local` is started by the harness itself; `staging` and `production` are deployed elsewhere and
reached through URLs given in the environment or in `.env.<stage>` (never committed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness.core.paths import PROJECT_ROOT

Stage = Literal["local", "staging", "production"]
STAGES: tuple[Stage, ...] = get_args(Stage)
ALL_STAGES: frozenset[Stage] = frozenset(STAGES)


class StageError(ValueError):
    """An unknown stage, or a stage without the configuration a task needs."""


def parse_stage(value: str) -> Stage:
    for stage in STAGES:
        if value == stage:
            return stage
    raise StageError(f"unknown stage {value!r}: choose one of {', '.join(STAGES)}")


class StageEnvironment(BaseSettings):
    """What the harness itself needs to know about a stage (the service reads its own Settings)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr | None = None


def stage_env_file(stage: Stage, project_root: Path = PROJECT_ROOT) -> Path:
    """`.env` for local (the same file the service reads), `.env.<stage>` for the others."""
    return project_root / (".env" if stage == "local" else f".env.{stage}")


def stage_environment(stage: Stage, project_root: Path = PROJECT_ROOT) -> StageEnvironment:
    """Environment variables win over the stage's file, as in the service's own Settings."""
    return StageEnvironment(_env_file=stage_env_file(stage, project_root))


def required_database_url(stage: Stage, project_root: Path = PROJECT_ROOT) -> str:
    url = stage_environment(stage, project_root).database_url
    if url is None:
        raise StageError(
            f"DATABASE_URL is not set for stage {stage!r}: export it or put it in "
            f"{stage_env_file(stage, project_root).name}"
        )
    return url.get_secret_value()
