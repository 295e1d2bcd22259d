"""The settings of a stage: what the harness reads of it, from the environment or `.env` / `.env.<stage>`.

`staging` and `production` are reached through URLs given there (the files are never committed).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness.core.paths import PROJECT_ROOT
from harness.core.stages import Stage, StageError


class StageSettings(BaseSettings):
    """What the harness reads of a stage (the service reads its own Settings): environment variables win
    over `.env` (local) or `.env.<stage>`. The one settings object of a stage, for every task and gate."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr | None = None
    service_url: str | None = None  # where the stage's service answers (local: the deployed process)
    ca_bundle: Path | None = None  # PEM trusted for the stage's HTTPS besides the public roots (a private CA)
    sandbox_url: str | None = None  # the stage's providers are the provider sandbox: its base URL
    service_log: Path | None = None  # the service's log file, when this machine can read it
    gate_store_url: SecretStr | None = None  # sign-offs and gate results (harness.ops.gate_store)
    paypal_webhook_id: str | None = None
    stripe_test_secret_key: SecretStr | None = None  # a Stripe test-mode account for the provider scenarios
    stripe_api_base: str | None = None
    redis_url: SecretStr | None = None
    redis_key_prefix: str | None = None
    deploy_command: str | None = None  # staging/production: e.g. a CI trigger; gets DEPLOY_SHA
    smoke_api_token: SecretStr | None = None
    smoke_integration_id: str | None = None
    stripe_webhook_secrets: SecretStr | None = None
    deploy_wait_s: float = 120.0  # how long a deploy waits for the stage to report the deployed commit
    database_pool_size: int = 10
    database_pool_max_overflow: int = 10
    load_thresholds: str | None = None  # the load gate's thresholds file on staging (default: the checklist's)
    load_profile: str = "staging"  # the load gate's profile on staging (load/profiles.toml)
    # Staging: the fuzz run's token's own rate limit, raised over the stage's RATE_LIMIT (harness.gates.fuzz).
    fuzz_token_rate_limit: str = "1200/minute"  # noqa: S105 - a request rate, not a secret
    # Local: the load gate runs `invoke bench` first (5-8 minutes more) and judges the thresholds' ratios to it.
    load_bench: bool = False
    # `invoke drift`: read-only credentials for the real providers (harness/ops/drift.py); unset = not checked.
    drift_xero_api_base: str = "https://api.xero.com"
    drift_xero_access_token: SecretStr | None = None  # a token of a connection with read scopes (30 minutes)
    drift_xero_tenant_id: str | None = None
    drift_paypal_api_base: str = "https://api-m.sandbox.paypal.com"
    drift_paypal_client_id: str | None = None
    drift_paypal_client_secret: SecretStr | None = None


def stage_env_file(stage: Stage, project_root: Path = PROJECT_ROOT) -> Path:
    """`.env` for local (the same file the service reads), `.env.<stage>` for the others."""
    return project_root / (".env" if stage == "local" else f".env.{stage}")


def stage_settings(stage: Stage, project_root: Path = PROJECT_ROOT) -> StageSettings:
    """Environment variables win over the stage's file, as in the service's own Settings."""
    return StageSettings(_env_file=stage_env_file(stage, project_root))


def required_database_url(stage: Stage, project_root: Path = PROJECT_ROOT) -> str:
    url = stage_settings(stage, project_root).database_url
    if url is None:
        raise StageError(
            f"DATABASE_URL is not set for stage {stage!r}: export it or put it in "
            f"{stage_env_file(stage, project_root).name}"
        )
    return url.get_secret_value()
