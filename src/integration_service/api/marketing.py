"""Marketing actions and campaign reads: `/api/integrations/billionmail/{id}/...` and `/mautic/{id}/...`.

Every route works on one of the caller's integrations (anyone else's is a 404). An action's result
is stored at once in the campaigns table, as the next sync would store it, so reads agree with it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, status
from pydantic import AwareDatetime, Field, StringConstraints, field_validator
from sqlalchemy import Table

from integration_service.api.errors import InvalidInput, documented_errors
from integration_service.api.models import DECIMAL_DIGITS, JSON_INTEGER, ApiModel, Flag, InputModel, Name, Page
from integration_service.api.owned import CallersIntegrations, Owned, OwnedIntegration
from integration_service.api.provider_errors import ACTIONS, PROVIDER_FAILED, as_service_error, reported_as
from integration_service.db.listing import page_of_rows
from integration_service.db.schema import billionmail_campaigns, mautic_campaigns
from integration_service.providers.base import Record, SyncProvider
from integration_service.providers.billionmail import BillionMail, NewTask
from integration_service.providers.errors import ProviderError
from integration_service.providers.mautic import Mautic
from integration_service.sync.upsert import upsert_rows

router = APIRouter(prefix="/api/integrations", tags=["marketing"])

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
EntityId = Annotated[int, Field(ge=1, le=2**31 - 1), JSON_INTEGER]
PathId = Annotated[int, Path(ge=1, le=2**31 - 1), DECIMAL_DIGITS]
ACTION_ERRORS = {**documented_errors(400, 401, 404, 409, 413, 422, 429, 503), **PROVIDER_FAILED}
P = TypeVar("P", bound=SyncProvider[Any])


def _connected(integrations: CallersIntegrations, integration_id: uuid.UUID, kind: type[P]) -> tuple[Owned[P], Any]:
    """The caller's active integration of this provider, and an authenticated API for it."""
    owned = integrations.active(integration_id, kind)
    with reported_as(ACTIONS):
        return owned, integrations.services.sync_engine.api_for(owned.provider, owned.linked)


def _store(integrations: CallersIntegrations, owned: Owned[Any], row: Record) -> None:
    records = owned.provider.record_sets()["campaigns"]
    stored = {**row, "integration_id": owned.linked.integration_id, "user_id": owned.linked.user_id}
    with integrations.services.engine.begin() as connection:
        upsert_rows(connection, records, [stored], 1)


def _stored(
    integrations: CallersIntegrations,
    integration_id: uuid.UUID,
    kind: type[SyncProvider[Any]],
    table: Table,
    limit: int,
    offset: int,
    **filters: Any,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the campaigns stored for the caller's integration of this provider."""
    integrations.get(integration_id, kind.integration_type)
    conditions = [table.c.integration_id == integration_id] + [
        table.c[k] == v for k, v in filters.items() if v is not None
    ]
    order = [table.c.provider_updated_at.desc().nulls_last(), table.c.id]
    return page_of_rows(integrations.services.engine, table, conditions, order, limit, offset)


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
    integrations: OwnedIntegration,
) -> BillionMailCampaignEnvelope:
    now = datetime.now(UTC)
    start = payload.start_time or now
    if start < now - timedelta(minutes=5):
        raise InvalidInput("startTime is in the past; leave it out to send now")
    owned, api = _connected(integrations, integration_id, BillionMail)
    task = NewTask(
        addresser=payload.addresser,
        subject=payload.subject,
        template_id=payload.template_id,
        group_ids=payload.group_ids,
        start_time=max(start, now),
        full_name=payload.full_name,
        remark=payload.remark,
    )
    with reported_as(ACTIONS):
        row = owned.provider.create_task(api, task)
    _store(integrations, owned, row)
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
    integrations: OwnedIntegration,
    status_: Annotated[str | None, Query(alias="status", pattern=r"^[a-z_]{1,20}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500), DECIMAL_DIGITS] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000), DECIMAL_DIGITS] = 0,
) -> BillionMailCampaignList:
    rows, total = _stored(
        integrations, integration_id, BillionMail, billionmail_campaigns, limit, offset, status=status_
    )
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
    integrations: OwnedIntegration,
) -> MauticCampaignEnvelope:
    owned, api = _connected(integrations, integration_id, Mautic)
    fields = {"name": payload.name, "description": payload.description, "isPublished": payload.is_published}
    if payload.segment_ids:
        fields["lists"] = list(dict.fromkeys(payload.segment_ids))
    with reported_as(ACTIONS):
        row = owned.provider.create_campaign(api, fields)
    _store(integrations, owned, row)
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
    integrations: OwnedIntegration,
    payload: MauticPublish | None = None,
) -> MauticCampaignEnvelope:
    owned, api = _connected(integrations, integration_id, Mautic)
    with reported_as(ACTIONS):
        row = owned.provider.publish_campaign(api, campaign_id, (payload or MauticPublish()).is_published)
    _store(integrations, owned, row)
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
    integrations: OwnedIntegration,
) -> MauticSegmentResult:
    """One call per contact (Mautic's documented single-contact endpoint); stops at the first refusal,
    whose message names the contact, so what was added before it is known from the order sent."""
    owned, api = _connected(integrations, integration_id, Mautic)
    added: list[int] = []
    for contact_id in dict.fromkeys(payload.contact_ids):
        try:
            owned.provider.add_to_segment(api, segment_id, contact_id)
        except ProviderError as exc:
            done = f" (added before it: {added})" if added else ""
            raise as_service_error(type(exc)(f"contact {contact_id}: {exc.message}{done}"), ACTIONS) from None
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
    integrations: OwnedIntegration,
    published: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500), DECIMAL_DIGITS] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000), DECIMAL_DIGITS] = 0,
) -> MauticCampaignList:
    rows, total = _stored(integrations, integration_id, Mautic, mautic_campaigns, limit, offset, is_published=published)
    return MauticCampaignList(
        campaigns=[MauticCampaign.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )
