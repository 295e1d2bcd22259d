"""`POST /api/integrations/sync`: run a sync now and report what it did, in the seed's result shape."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from integration_service.api.dependencies import AppServices, CurrentUser
from integration_service.api.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ServiceError,
    Unavailable,
    documented_errors,
)
from integration_service.api.models import ApiModel, Flag, InputModel
from integration_service.sync.engine import SyncRefused, SyncResult

router = APIRouter(prefix="/api/integrations", tags=["sync"])


class SyncRequest(InputModel):
    integration_id: uuid.UUID
    data_type: Literal["invoices", "contacts", "payments", "subscriptions", "campaigns", "all"]
    full_resync: Flag = Field(default=False, description="Ignore the last sync and fetch everything")


class SyncOutcome(ApiModel):
    success: bool
    status: Literal["success", "partial", "failed"]
    total_records: int
    synced_records: int
    failed_records: int
    errors: list[str]
    duration: int = Field(description="milliseconds")
    message: str
    sql_statements: int = Field(description="SQL statements the run issued (grows with pages, not records)")


class SyncResponse(ApiModel):
    result: SyncOutcome


# When the process runs as many syncs as it takes: a few seconds frees a slot for most runs.
BUSY_RETRY_AFTER_S = 5

_REFUSALS: dict[str, type[ServiceError]] = {
    "busy": Unavailable,
    "not_found": NotFound,
    "running": Conflict,
    "inactive": Conflict,
    "not_connected": Conflict,
    "unsupported": InvalidInput,
}


def _outcome(result: SyncResult) -> SyncOutcome:
    return SyncOutcome(
        success=result.success,
        status=result.status,
        total_records=result.total_records,
        synced_records=result.synced_records,
        failed_records=result.failed_records,
        errors=result.errors,
        duration=result.duration_ms,
        message=result.message,
        sql_statements=result.sql_statements,
    )


@router.post(
    "/sync",
    operation_id="syncIntegration",
    summary="Sync an integration's records (invoices, contacts, payments, subscriptions, campaigns) now",
    response_model=SyncResponse,
    responses={
        502: {"model": SyncResponse, "description": "The provider failed: the result says what was stored"},
        **documented_errors(400, 401, 404, 409, 413, 422, 429, 503),
    },
)
def sync(payload: SyncRequest, user_id: CurrentUser, services: AppServices) -> JSONResponse:
    """200 when everything was stored; 502 with the same body when the provider stopped the run part-way;
    503 with Retry-After when the service runs as many syncs as it takes at once."""
    try:
        result = services.sync_engine.run(user_id, payload.integration_id, payload.data_type, payload.full_resync)
    except SyncRefused as refused:
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_S)} if refused.reason == "busy" else None
        raise _REFUSALS[refused.reason](refused.message, headers=headers) from None
    body = SyncResponse(result=_outcome(result)).model_dump(by_alias=True)
    return JSONResponse(body, status_code=200 if result.success else 502)
