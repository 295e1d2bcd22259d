"""`GET /api/health`: database reachable, schema at the newest migration, Redis reachable if configured."""

from __future__ import annotations

from typing import Literal

import structlog
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from integration_service.api.dependencies import AppServices
from integration_service.db import migrations

router = APIRouter(tags=["health"])
log = structlog.get_logger(__name__)


class HealthChecks(BaseModel):
    database: str
    migrations: str
    redis: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: HealthChecks
    gitSha: str = Field(description="The git commit this build runs (as GET /api/version reports it)")


@router.get(
    "/api/health",
    operation_id="getHealth",
    summary="Service health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is down or the schema is not at head"}},
)
def health(response: Response, services: AppServices) -> Health:
    """Liveness and readiness in one: 200 only when the service can do its work."""
    database, schema = "ok", "unknown"
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = migrations.current_revision(connection)
        expected = services.head_revision
        schema = f"at head ({current})" if current == expected else f"at {current}, expected {expected}"
    except SQLAlchemyError as exc:
        database = f"unreachable ({type(exc.orig if hasattr(exc, 'orig') else exc).__name__})"
    redis_state = "not configured"
    client = services.redis
    if client is not None:
        from redis import RedisError  # only where Redis is configured (app.build_services)

        try:
            client.ping()
            redis_state = "ok"
        except RedisError as exc:
            redis_state = f"unreachable ({type(exc).__name__})"
    healthy = database == "ok" and schema.startswith("at head") and redis_state in ("ok", "not configured")
    if not healthy:
        response.status_code = 503
        log.warning("unhealthy", database=database, migrations=schema, redis=redis_state)
    return Health(
        status="ok" if healthy else "unavailable",
        checks=HealthChecks(database=database, migrations=schema, redis=redis_state),
        gitSha=services.settings.build_sha,
    )
