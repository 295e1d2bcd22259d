"""`POST /api/integrations/sync`: queue a sync, wait for it a while, report what it did in the seed's result shape."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Literal

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import RowMapping
from starlette.concurrency import run_in_threadpool

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


class SyncQueued(ApiModel):
    sync_log_id: uuid.UUID
    status: Literal["queued", "running"]
    message: str


# When the sync queue cannot be reached: a few seconds is what a database failover or restart takes.
BUSY_RETRY_AFTER_S = 5

_REFUSALS: dict[str, type[ServiceError]] = {
    "busy": Unavailable,
    "not_found": NotFound,
    "running": Conflict,
    "inactive": Conflict,
    "not_connected": Conflict,
    "unsupported": InvalidInput,
}


@router.post(
    "/sync",
    operation_id="syncIntegration",
    summary="Sync an integration's records (invoices, contacts, payments, subscriptions, campaigns) now",
    response_model=SyncResponse,
    responses={
        202: {"model": SyncQueued, "description": "Queued or running still: its log (Location) says how it ends"},
        502: {"model": SyncResponse, "description": "The provider failed: the result says what was stored"},
        **documented_errors(400, 401, 404, 409, 413, 422, 429, 503),
    },
)
async def sync(payload: SyncRequest, user_id: CurrentUser, services: AppServices) -> JSONResponse:
    """The sync runs as a job on a worker; the request waits for it up to SYNC_WAIT_S. 200 when everything
    was stored; 502 with the same body when the provider stopped the run part-way (or it could not run);
    202 with the sync log's id and `Location` when it has not ended by then. One sync per integration is
    queued or running at a time: another request meanwhile gets 409 (it does not join the first)."""
    enqueue = partial(
        services.sync_requests.enqueue, user_id, payload.integration_id, payload.data_type, payload.full_resync
    )
    try:
        log_id = await anyio.to_thread.run_sync(enqueue, limiter=services.sync_requests.admission)
    except SyncRefused as refused:
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_S)} if refused.reason == "busy" else None
        raise _REFUSALS[refused.reason](refused.message, headers=headers) from None
    row = await services.sync_waiter.wait(log_id, services.settings.sync_wait_s)
    if row is None:
        raise NotFound(f"integration {payload.integration_id} was deleted before its sync ended")
    if row["status"] in ("queued", "running"):
        waited = services.settings.sync_wait_s
        message = f"the sync has not ended after {waited:g} s; read its log"
        if row["status"] == "queued" and not await run_in_threadpool(services.sync_requests.workers_alive):
            message = "the sync is queued, but no sync worker is running to take it: start one (invoke worker)"
        # The row waited for: the retry's, when the first attempt's worker died meanwhile.
        queued = SyncQueued(sync_log_id=row["id"], status=row["status"], message=message)
        location = f"/api/integrations/logs/{row['id']}"
        return JSONResponse(
            queued.model_dump(by_alias=True, mode="json"), status_code=202, headers={"Location": location}
        )
    result = finished_result(row)
    body = SyncResponse(result=_outcome(result)).model_dump(by_alias=True)
    return JSONResponse(body, status_code=200 if result.success else 502)


def finished_result(row: RowMapping) -> SyncResult:
    """The result a run wrote; for one closed without running to its end (interrupted, not run), its row."""
    if row["outcome"] is not None:
        return SyncResult(**row["outcome"])
    reason = row["error_message"] or "the sync ended without a result"
    return SyncResult(
        status=row["status"],
        total_records=row["total_records"],
        synced_records=row["synced_records"],
        failed_records=row["failed_records"],
        errors=[reason],
        duration_ms=row["duration_ms"] or 0,
        message=reason,
    )
