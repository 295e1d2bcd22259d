"""Marketing actions and campaign reads: `/api/integrations/billionmail/{id}/...` and `/mautic/{id}/...`.

Every route works on one of the caller's integrations (anyone else's is a 404). An action's result
is stored at once in the campaigns table, as the next sync would store it, so reads agree with it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import AwareDatetime, Field, StringConstraints, field_validator
from sqlalchemy import Engine, Table, func, select

from integration_service.api.connection_tests import PROVIDER_FAILED, owned_integration, provider_failure
from integration_service.api.dependencies import CurrentUser, DatabaseEngine
from integration_service.api.errors import Conflict, InvalidInput, documented_errors
from integration_service.api.models import ApiModel, Flag, InputModel, Name, Page
from integration_service.db.schema import billionmail_campaigns, mautic_campaigns
from integration_service.providers.base import Linked, Record, SyncProvider
from integration_service.providers.billionmail import BillionMail, NewTask
from integration_service.providers.errors import ProviderError
from integration_service.providers.mautic import Mautic
from integration_service.sync.upsert import upsert_rows

router = APIRouter(prefix="/api/integrations", tags=["marketing"])

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
EntityId = Annotated[int, Field(ge=1, le=2**31 - 1)]
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ACTION_ERRORS = {**documented_errors(400, 401, 404, 409, 413, 422, 429, 503), **PROVIDER_FAILED}
P = TypeVar("P", bound=SyncProvider)


def _connected(
    request: Request, engine: Engine, user_id: str, integration_id: uuid.UUID, kind: type[P]
) -> tuple[P, Any, Linked]:
    """The caller's active integration of this provider, and an authenticated API for it."""
    provider = next(p for p in request.app.state.sync_providers.values() if isinstance(p, kind))
    row = owned_integration(engine, user_id, integration_id, provider.integration_type)
    if not row["is_active"]:
        raise Conflict("the integration is disabled; enable it (isActive) first")
    linked = Linked(integration_id, user_id, dict(row["custom_data"]))
    try:
        return provider, request.app.state.sync_engine.api_for(provider, linked), linked
    except ProviderError as exc:
        raise provider_failure(exc) from None


def _store(engine: Engine, provider: SyncProvider, linked: Linked, row: Record) -> None:
    records = provider.record_sets()["campaigns"]
    with engine.begin() as connection:
        upsert_rows(
            connection, records, [{**row, "integration_id": linked.integration_id, "user_id": linked.user_id}], 1
        )


def _stored(
    engine: Engine, table: Table, integration_id: uuid.UUID, limit: int, offset: int, **filters: Any
) -> tuple[list[dict[str, Any]], int]:
    conditions = [table.c.integration_id == integration_id] + [
        table.c[k] == v for k, v in filters.items() if v is not None
    ]
    visible = [c for c in table.columns if c.name not in ("id", "user_id")]
    with engine.connect() as connection:
        rows = (
            connection.execute(
                select(*visible)
                .where(*conditions)
                .order_by(table.c.provider_updated_at.desc().nulls_last(), table.c.id)
                .limit(limit)
                .offset(offset)
            )
            .mappings()
            .all()
        )
        total = connection.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()
    return [dict(row) for row in rows], total


# --- BillionMail -------------------------------------------------------------------------------


class BillionMailCampaign(ApiModel):
    billionmail_task_id: str
    task_name: str | None = None
    subject: str | None = None
    addresser: str | None = None
    template_id: str | None = None
    group_ids: list[int] = Field(default_factory=list)
    status: str | None = Field(None, description="not_started | running | completed | paused")
    recipient_count: int | None = Field(None, description="distinct subscribed addresses in the groups")
    sent_count: int | None = None
    start_time: datetime | None = None
    provider_updated_at: datetime | None = None


class BillionMailCampaignCreate(InputModel):
    addresser: Email = Field(description="the sending mailbox, e.g. newsletter@your-domain")
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    template_id: EntityId
    group_ids: list[EntityId] = Field(min_length=1, max_length=100, description="contact groups to send to")
    start_time: AwareDatetime | None = Field(None, description="when to send; absent = send now")
    remark: Text = ""

    @field_validator("group_ids")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class BillionMailCampaignEnvelope(ApiModel):
    campaign: BillionMailCampaign


class BillionMailCampaignList(Page):
    campaigns: list[BillionMailCampaign]


@router.post(
    "/billionmail/{integration_id}/campaigns",
    operation_id="createBillionMailCampaign",
    summary="Create a BillionMail campaign: sent at startTime, or now when startTime is absent",
    status_code=status.HTTP_201_CREATED,
    response_model=BillionMailCampaignEnvelope,
    responses=ACTION_ERRORS,
)
def create_billionmail_campaign(
    integration_id: uuid.UUID,
    payload: BillionMailCampaignCreate,
    request: Request,
    user_id: CurrentUser,
    engine: DatabaseEngine,
) -> BillionMailCampaignEnvelope:
    now = datetime.now(UTC)
    start = payload.start_time or now
    if start < now - timedelta(minutes=5):
        raise InvalidInput("startTime is in the past; leave it out to send now")
    provider, api, linked = _connected(request, engine, user_id, integration_id, BillionMail)
    task = NewTask(
        addresser=payload.addresser,
        subject=payload.subject,
        template_id=payload.template_id,
        group_ids=payload.group_ids,
        start_time=max(start, now),
        full_name=payload.full_name,
        remark=payload.remark,
    )
    try:
        row = provider.create_task(api, task)
    except ProviderError as exc:
        raise provider_failure(exc) from None
    _store(engine, provider, linked, row)
    return BillionMailCampaignEnvelope(campaign=BillionMailCampaign.model_validate(row))


@router.get(
    "/billionmail/{integration_id}/campaigns",
    operation_id="listBillionMailCampaigns",
    summary="BillionMail campaigns of one of your integrations (as last synced or created)",
    response_model=BillionMailCampaignList,
    responses=documented_errors(401, 404, 422, 429),
)
def list_billionmail_campaigns(
    integration_id: uuid.UUID,
    user_id: CurrentUser,
    engine: DatabaseEngine,
    status_: Annotated[str | None, Query(alias="status", pattern=r"^[a-z_]{1,20}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> BillionMailCampaignList:
    owned_integration(engine, user_id, integration_id, BillionMail.integration_type)
    rows, total = _stored(engine, billionmail_campaigns, integration_id, limit, offset, status=status_)
    return BillionMailCampaignList(
        campaigns=[BillionMailCampaign.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


# --- Mautic ------------------------------------------------------------------------------------


class MauticCampaign(ApiModel):
    mautic_campaign_id: str
    name: str | None = None
    description: str | None = None
    is_published: Flag | None = None
    category: str | None = None
    publish_up: datetime | None = None
    publish_down: datetime | None = None
    provider_updated_at: datetime | None = None


class MauticCampaignCreate(InputModel):
    name: Name
    description: Text = ""
    segment_ids: list[EntityId] = Field(
        default_factory=list, max_length=100, description="segments it draws contacts from"
    )
    is_published: Flag = Field(False, description="publish at once (or later: .../publish)")


class MauticPublish(InputModel):
    is_published: Flag = True


class MauticSegmentMembers(InputModel):
    contact_ids: list[EntityId] = Field(min_length=1, max_length=200)


class MauticCampaignEnvelope(ApiModel):
    campaign: MauticCampaign


class MauticCampaignList(Page):
    campaigns: list[MauticCampaign]


class MauticSegmentResult(ApiModel):
    segment_id: int
    added_contact_ids: list[int]


@router.post(
    "/mautic/{integration_id}/campaigns",
    operation_id="createMauticCampaign",
    summary="Create a Mautic campaign (unpublished unless isPublished)",
    status_code=status.HTTP_201_CREATED,
    response_model=MauticCampaignEnvelope,
    responses=ACTION_ERRORS,
)
def create_mautic_campaign(
    integration_id: uuid.UUID,
    payload: MauticCampaignCreate,
    request: Request,
    user_id: CurrentUser,
    engine: DatabaseEngine,
) -> MauticCampaignEnvelope:
    provider, api, linked = _connected(request, engine, user_id, integration_id, Mautic)
    fields = {"name": payload.name, "description": payload.description, "isPublished": payload.is_published}
    if payload.segment_ids:
        fields["lists"] = list(dict.fromkeys(payload.segment_ids))
    try:
        row = provider.create_campaign(api, fields)
    except ProviderError as exc:
        raise provider_failure(exc) from None
    _store(engine, provider, linked, row)
    return MauticCampaignEnvelope(campaign=MauticCampaign.model_validate(row))


@router.post(
    "/mautic/{integration_id}/campaigns/{campaign_id}/publish",
    operation_id="publishMauticCampaign",
    summary="Publish (or, with isPublished false, unpublish) a Mautic campaign",
    response_model=MauticCampaignEnvelope,
    responses=ACTION_ERRORS,
)
def publish_mautic_campaign(
    integration_id: uuid.UUID,
    campaign_id: PathId,
    request: Request,
    user_id: CurrentUser,
    engine: DatabaseEngine,
    payload: MauticPublish | None = None,
) -> MauticCampaignEnvelope:
    provider, api, linked = _connected(request, engine, user_id, integration_id, Mautic)
    try:
        row = provider.publish_campaign(api, campaign_id, (payload or MauticPublish()).is_published)
    except ProviderError as exc:
        raise provider_failure(exc) from None
    _store(engine, provider, linked, row)
    return MauticCampaignEnvelope(campaign=MauticCampaign.model_validate(row))


@router.post(
    "/mautic/{integration_id}/segments/{segment_id}/contacts",
    operation_id="addMauticSegmentContacts",
    summary="Add contacts to a Mautic segment",
    response_model=MauticSegmentResult,
    responses=ACTION_ERRORS,
)
def add_mautic_segment_contacts(
    integration_id: uuid.UUID,
    segment_id: PathId,
    payload: MauticSegmentMembers,
    request: Request,
    user_id: CurrentUser,
    engine: DatabaseEngine,
) -> MauticSegmentResult:
    """One call per contact (Mautic's documented single-contact endpoint); stops at the first refusal,
    whose message names the contact, so what was added before it is known from the order sent."""
    provider, api, _ = _connected(request, engine, user_id, integration_id, Mautic)
    added: list[int] = []
    for contact_id in dict.fromkeys(payload.contact_ids):
        try:
            provider.add_to_segment(api, segment_id, contact_id)
        except ProviderError as exc:
            done = f" (added before it: {added})" if added else ""
            raise provider_failure(type(exc)(f"contact {contact_id}: {exc.message}{done}")) from None
        added.append(contact_id)
    return MauticSegmentResult(segment_id=segment_id, added_contact_ids=added)


@router.get(
    "/mautic/{integration_id}/campaigns",
    operation_id="listMauticCampaigns",
    summary="Mautic campaigns of one of your integrations (as last synced or changed here)",
    response_model=MauticCampaignList,
    responses=documented_errors(401, 404, 422, 429),
)
def list_mautic_campaigns(
    integration_id: uuid.UUID,
    user_id: CurrentUser,
    engine: DatabaseEngine,
    published: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> MauticCampaignList:
    owned_integration(engine, user_id, integration_id, Mautic.integration_type)
    rows, total = _stored(engine, mautic_campaigns, integration_id, limit, offset, is_published=published)
    return MauticCampaignList(
        campaigns=[MauticCampaign.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )
