"""`GET /api/integrations/logs`: the caller's sync history, never anyone else's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from integration_service.api.dependencies import CurrentUser, DatabaseEngine
from integration_service.api.errors import InvalidInput, NotFound, documented_errors
from integration_service.api.integrations import IntegrationType
from integration_service.api.models import DECIMAL_DIGITS, ApiModel, IsoDateTime, Page
from integration_service.db import sync_logs
from integration_service.db.schema import SYNC_LOG_STATUSES

router = APIRouter(prefix="/api/integrations", tags=["sync logs"])

SyncLogStatus = Literal[SYNC_LOG_STATUSES]  # type: ignore[valid-type]


class SyncLogPublic(ApiModel):
    id: uuid.UUID
    integration_id: uuid.UUID
    integration_type: str
    sync_type: str
    status: str
    total_records: int
    synced_records: int
    failed_records: int
    error_message: str | None
    duration_ms: int | None
    trigger: Literal["request", "schedule"] = Field(description="who asked for the run: a user, or the schedule")
    created_at: datetime
    completed_at: datetime | None


class SyncLogList(Page):
    logs: list[SyncLogPublic]


@router.get(
    "/logs",
    operation_id="listSyncLogs",
    summary="List your sync logs, newest first",
    response_model=SyncLogList,
    responses=documented_errors(401, 422, 429),
)
def list_sync_logs(
    user_id: CurrentUser,
    engine: DatabaseEngine,
    integration_id: Annotated[uuid.UUID | None, Query(alias="integrationId")] = None,
    integration_type: Annotated[IntegrationType | None, Query(alias="integrationType")] = None,
    status: Annotated[SyncLogStatus | None, Query()] = None,
    sync_type: Annotated[str | None, Query(alias="syncType", min_length=1, max_length=50, pattern=r"^[a-z_]+$")] = None,
    since: Annotated[IsoDateTime | None, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[IsoDateTime | None, Query(description="created before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=200), DECIMAL_DIGITS] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000), DECIMAL_DIGITS] = 0,
) -> SyncLogList:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} must carry a time zone (e.g. 2025-01-08T00:00:00Z)")
    where = sync_logs.LogFilter(
        integration_id=integration_id,
        integration_type=None if integration_type is None else integration_type.value,
        status=status,
        sync_type=sync_type,
        since=since,
        until=until,
    )
    with engine.connect() as connection:
        rows, total = sync_logs.list_for_user(connection, user_id, where, limit=limit, offset=offset)
    return SyncLogList(
        logs=[SyncLogPublic.model_validate(dict(row)) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/logs/{log_id}",
    operation_id="getSyncLog",
    summary="One of your sync logs (a queued sync's 202 points here)",
    response_model=SyncLogPublic,
    responses=documented_errors(401, 404, 422, 429),
)
def get_sync_log(log_id: uuid.UUID, user_id: CurrentUser, engine: DatabaseEngine) -> SyncLogPublic:
    with engine.connect() as connection:
        row = sync_logs.one_for_user(connection, user_id, log_id)
    if row is None:
        raise NotFound(f"sync log {log_id} not found")
    return SyncLogPublic.model_validate(dict(row))
