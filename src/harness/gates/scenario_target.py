"""What the checklist scenarios are pointed at: the stage's URLs and the few settings they need.

The gate hands it to the scenario run as `QA_*` environment variables (never as a file: the webhook
secrets must not land in the report folder); `steps/` reads it back with `ScenarioTarget.from_env()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


class ScenarioTargetError(RuntimeError):
    """The scenario run was started without the stage it must test."""


@dataclass(frozen=True)
class ScenarioTarget:
    stage: str
    service_url: str
    project_root: Path
    run_dir: Path
    database_url: str | None = None  # database items, and issuing each scenario's own user
    sandbox_url: str | None = None  # when the stage's providers are the provider sandbox: it and its control API
    service_log: Path | None = None  # when the QA runner can read the service's log: searched for canary secrets
    ca_bundle: Path | None = None  # PEM the scenarios trust for the stage's HTTPS (a private CA); None: system trust
    stripe_webhook_secret: str | None = None  # the stage's endpoint secret: genuine events are signed with it
    paypal_webhook_id: str | None = None
    # A real Stripe account in test mode, for a stage whose providers are not the sandbox (sk_test_ keys only).
    stripe_test_secret_key: str | None = None
    stripe_api_base: str | None = None  # where that account's API answers (default: Stripe's own)
    redis_url: str | None = None
    redis_key_prefix: str | None = None

    def to_env(self) -> dict[str, str]:
        env = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                env[_env_name(field.name)] = str(value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ScenarioTarget:
        missing = [_env_name(name) for name in ("stage", "service_url") if not environ.get(_env_name(name))]
        if missing:
            raise ScenarioTargetError(
                f"{', '.join(missing)} not set: the scenarios run against a stage; start them with "
                "`uv run invoke qa --stage local` (or staging/production), not bare pytest"
            )

        def optional(name: str) -> str | None:
            return environ.get(_env_name(name)) or None

        log, ca_bundle = optional("service_log"), optional("ca_bundle")
        return cls(
            stage=environ[_env_name("stage")],
            service_url=environ[_env_name("service_url")].rstrip("/"),
            project_root=Path(optional("project_root") or Path.cwd()),
            run_dir=Path(optional("run_dir") or Path.cwd()),
            database_url=optional("database_url"),
            sandbox_url=(optional("sandbox_url") or "").rstrip("/") or None,
            service_log=Path(log) if log else None,
            ca_bundle=Path(ca_bundle) if ca_bundle else None,
            stripe_webhook_secret=optional("stripe_webhook_secret"),
            paypal_webhook_id=optional("paypal_webhook_id"),
            stripe_test_secret_key=optional("stripe_test_secret_key"),
            stripe_api_base=optional("stripe_api_base"),
            redis_url=optional("redis_url"),
            redis_key_prefix=optional("redis_key_prefix"),
        )


def _env_name(field_name: str) -> str:
    return f"QA_{field_name.upper()}"
