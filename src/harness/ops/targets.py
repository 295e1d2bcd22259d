"""A stage's Target from its settings: the local stage's database and deployed service are found here."""

from __future__ import annotations

import json

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from harness.core.database import create_database
from harness.core.embedded_postgres import EmbeddedPostgres
from harness.core.paths import STACK_DIR
from harness.core.settings import stage_settings
from harness.core.stages import Stage
from harness.ops.common import OpsError, Target
from harness.ops.gate_store import gate_store_url


def local_stack_file() -> dict[str, str]:
    """What `invoke up` wrote to .stack/stack.json (service, database and sandbox URLs); {} without a stack."""
    path = STACK_DIR / "stack.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def same_database(one: str | None, other: str) -> bool:
    try:
        return one is not None and make_url(one).set(drivername="postgresql") == make_url(other).set(
            drivername="postgresql"
        )
    except ArgumentError:
        return False


def stage_target(stage: Stage) -> Target:
    settings = stage_settings(stage)
    if settings.database_url is not None:
        database_url = settings.database_url.get_secret_value()
    elif stage == "local":  # the embedded server `invoke up` uses, its `integrations` database
        server = EmbeddedPostgres(STACK_DIR / "pgdata").start()
        database_url = create_database(server, "integrations", exist_ok=True)
    else:
        raise OpsError(f"DATABASE_URL is not set for stage {stage!r}: export it or put it in .env.{stage}")
    service_url = settings.service_url
    deployed = STACK_DIR / "ops" / f"service-{stage}.json"
    stack = local_stack_file() if stage == "local" else {}
    if service_url is None and stage == "local" and deployed.exists():
        service_url = json.loads(deployed.read_text())["url"]
    if service_url is None and same_database(stack.get("database_url"), database_url):  # `invoke up`'s service
        service_url = stack.get("service_url")
    return Target(
        stage=stage,
        database_url=database_url,
        service_url=service_url,
        redis_url=settings.redis_url.get_secret_value() if settings.redis_url else None,
        redis_key_prefix=settings.redis_key_prefix or f"integrations:{stage}",
        deploy_command=settings.deploy_command,
        smoke_api_token=settings.smoke_api_token.get_secret_value() if settings.smoke_api_token else None,
        smoke_integration_id=settings.smoke_integration_id,
        stripe_webhook_secret=(
            settings.stripe_webhook_secrets.get_secret_value().split(",")[0].strip()
            if settings.stripe_webhook_secrets
            else None
        ),
        sandbox_url=settings.sandbox_url or stack.get("sandbox_url"),
        ca_bundle=settings.ca_bundle,
        pool_capacity=settings.database_pool_size + settings.database_pool_max_overflow,
        gate_store_url=gate_store_url(stage),
        deploy_wait_s=settings.deploy_wait_s,
    )
