"""`/api/integrations`: connect, list, read, update and delete a user's integrations.

Another user's integration is a 404, exactly like one that does not exist: a 403 would confirm it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import to_json

from integration_service.api.connection_tests import verify_new_integration
from integration_service.api.dependencies import (
    AppServices,
    BearerCredentials,
    CurrentUser,
    DatabaseEngine,
    Secrets,
    invalid_token,
    presented_token,
)
from integration_service.api.errors import Conflict, NotFound, PreconditionFailed, documented_errors
from integration_service.api.models import (
    DECIMAL_DIGITS,
    ApiModel,
    CustomData,
    Flag,
    InputModel,
    Name,
    OptionalCustomData,
    Page,
    Secret,
    custom_data_problem,
)
from integration_service.api.owned import OwnedIntegration
from integration_service.db import credentials, reads
from integration_service.db.engine import UnreadableJson
from integration_service.db.schema import INTEGRATION_TYPES
from integration_service.providers.base import ApiKeyProvider
from integration_service.security.api_tokens import hash_token
from integration_service.security.encryption import SecretBox
from integration_service.security.redaction import scrub
from integration_service.sync.locks import hold_until_commit

router = APIRouter(prefix="/api/integrations", tags=["integrations"])
# The collection's two routes (list and create) on a router of their own, which the app matches first:
# its exact path claims nothing else, and the busiest route no longer waits for every other route's
# pattern to be tried (measured: 6 % of its CPU at saturation, py-spy, issue 16).
collection = APIRouter(prefix="/api/integrations", tags=["integrations"])

IntegrationType = StrEnum("IntegrationType", {name: name for name in INTEGRATION_TYPES})  # type: ignore[misc]


class _AcceptsAnyCaseType(InputModel):
    @field_validator("integration_type", mode="before", check_fields=False)
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class IntegrationCreate(_AcceptsAnyCaseType):
    integration_type: IntegrationType
    integration_name: Name
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    api_key: Secret | None = None
    api_secret: Secret | None = None
    custom_data: CustomData = Field(default_factory=dict)


class IntegrationUpdate(InputModel):
    """Only the fields sent are changed; a secret sent as null is removed."""

    # Not nullable in the schema: null is refused for these three (found by fuzzing: the schema said nullable).
    integration_name: Name | SkipJsonSchema[None] = None
    is_active: Flag | SkipJsonSchema[None] = None
    custom_data: OptionalCustomData = None
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    api_key: Secret | None = None
    api_secret: Secret | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> IntegrationUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        for required in ("integration_name", "is_active", "custom_data"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self


class IntegrationPublic(ApiModel):
    """What a client may see: never a secret, only whether each one is set."""

    id: uuid.UUID
    integration_type: IntegrationType
    integration_name: str
    is_active: bool
    sync_status: str
    sync_error: str | None
    last_synced_at: datetime | None
    token_expires_at: datetime | None
    custom_data: dict[str, Any] | None = Field(
        description="null when the stored value breaks the limits on customData (stored by an older version): "
        "too deep, too large, unreadable or holding secret-looking keys; PATCH customData to replace it"
    )
    has_access_token: bool
    has_refresh_token: bool
    has_api_key: bool
    has_api_secret: bool
    created_at: datetime
    updated_at: datetime

    @field_validator("custom_data", mode="before")
    @classmethod
    def _shown_only_within_limits(cls, value: object) -> object:
        return shown_custom_data(value)

    @field_validator("sync_error")
    @classmethod
    def _scrubbed(cls, value: str | None) -> str | None:
        return None if value is None else scrub(value)


def shown_custom_data(value: object) -> object:
    """Whatever an older version stored, reading it must not fail (nor return a secret it let in). The column
    holds any JSON value: one that is not an object (stored by hand or an older version) is not shown either."""
    if not isinstance(value, dict):
        return None
    if isinstance(value, UnreadableJson) or custom_data_problem(value):
        return None
    return value


class IntegrationEnvelope(ApiModel):
    integration: IntegrationPublic


class IntegrationList(Page):
    integrations: list[IntegrationPublic]


# IntegrationPublic's fields by their names on the wire, in its order: the list writes its rows straight
# to JSON with them (validating the rows into models and dumping the page: ~180 of ~720 us of CPU for a
# page of 10, issue 16).
_WIRE_NAMES = {name: field.alias or name for name, field in IntegrationPublic.model_fields.items()}


def listed_json(rows: list[dict[str, Any]], total: int, limit: int, offset: int) -> bytes:
    """The list's answer, byte for byte what IntegrationList(...).model_dump_json(by_alias=True) writes for
    these rows (a test holds the two equal), with the same rules: customData shown only within its limits,
    syncError scrubbed, nothing but IntegrationPublic's fields."""
    listed = []
    for row in rows:
        wire = {alias: row[name] for name, alias in _WIRE_NAMES.items()}
        if _custom_data_hidden(row):
            wire[_WIRE_NAMES["custom_data"]] = None
        if row["sync_error"] is not None:
            wire[_WIRE_NAMES["sync_error"]] = scrub(row["sync_error"])
        listed.append(wire)
    # A number too large for a float (stored as jsonb, read as inf) is null, as the model writes it: JSON has
    # no Infinity.
    page = {"total": total, "limit": limit, "offset": offset, "integrations": listed}
    return to_json(page, inf_nan_mode="null")


# Whether a row version's customData is hidden, by (id, version, updated_at): the version is the row's xmin,
# which every write of the row changes (as the ETag relies on), so a version's customData never changes;
# updated_at guards against an xid met again (a cluster restored to an earlier point under a running process).
# Checking each listed row's customData on every list was ~6 % of the route's CPU (issue 16). Bounded.
_HIDDEN_BY_VERSION: dict[tuple[uuid.UUID, str, datetime], bool] = {}
_HIDDEN_BY_VERSION_MAX = 20_000


def _custom_data_hidden(row: dict[str, Any]) -> bool:
    key = (row["id"], row["version"], row["updated_at"])
    hidden = _HIDDEN_BY_VERSION.get(key)
    if hidden is None:
        hidden = shown_custom_data(row["custom_data"]) is None
        if len(_HIDDEN_BY_VERSION) >= _HIDDEN_BY_VERSION_MAX:
            _HIDDEN_BY_VERSION.clear()
        _HIDDEN_BY_VERSION[key] = hidden
    return hidden


def _encrypted_secrets(payload: IntegrationCreate | IntegrationUpdate, box: SecretBox) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, column in credentials.SECRET_COLUMNS.items():
        if name in payload.model_fields_set:
            secret = getattr(payload, name)
            values[column.name] = None if secret is None else box.encrypt(secret.get_secret_value())
    return values


def _etag(row: Any) -> str:
    return f'"{row["version"]}"'


def _versions_allowed(if_match: str | None) -> list[str] | None:
    """The row versions an If-Match header names; None when any will do (no header, or `*`).
    Weak tags never match: If-Match compares strongly (RFC 9110, 13.1.1)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tags = [tag.strip() for tag in if_match.split(",")]
    return [tag.strip('"') for tag in tags if not tag.startswith("W/")]


_CREATED_ID = "$response.body#/integration/id"
# OpenAPI links: what a client (and Schemathesis's stateful phase) can do next with a new integration.
_CREATED_LINKS = {
    "GetIntegration": {"operationId": "getIntegration", "parameters": {"integration_id": _CREATED_ID}},
    "UpdateIntegration": {"operationId": "updateIntegration", "parameters": {"integration_id": _CREATED_ID}},
    "SyncIntegration": {
        "operationId": "syncIntegration",
        "requestBody": {"integrationId": _CREATED_ID, "dataType": "invoices"},
    },
    "DeleteIntegration": {"operationId": "deleteIntegration", "parameters": {"integration_id": _CREATED_ID}},
}


@collection.post(
    "",
    operation_id="createIntegration",
    summary="Connect an integration",
    status_code=status.HTTP_201_CREATED,
    response_model=IntegrationEnvelope,
    responses={201: {"links": _CREATED_LINKS}, **documented_errors(400, 401, 409, 413, 422, 429)},
)
def create_integration(
    payload: IntegrationCreate,
    services: AppServices,
    response: Response,
    user_id: CurrentUser,
    engine: DatabaseEngine,
    box: Secrets,
) -> IntegrationEnvelope:
    """Store an integration's credentials, encrypted. Secrets are accepted here and never returned.

    API-key providers check customData and test the key first (422 `connection_failed` if refused).
    """
    custom_data = payload.custom_data
    provider = services.providers.get(payload.integration_type.value)
    if isinstance(provider, ApiKeyProvider):
        custom_data = verify_new_integration(
            services.http, provider, user_id, custom_data, payload.api_key, payload.api_secret
        )
    values = {
        "integration_type": payload.integration_type.value,
        "integration_name": payload.integration_name,
        "custom_data": custom_data,
        **_encrypted_secrets(payload, box),
    }
    with engine.begin() as connection:
        row = credentials.insert(connection, user_id, values)
    response.headers["ETag"] = _etag(row)
    return IntegrationEnvelope(integration=IntegrationPublic.model_validate(dict(row)))


@collection.get(
    "",
    operation_id="listIntegrations",
    summary="List your integrations",
    response_model=IntegrationList,
    responses=documented_errors(401, 422, 429),
)
async def list_integrations(
    services: AppServices,
    credentials: BearerCredentials,
    limit: Annotated[int, Query(ge=1, le=200), DECIMAL_DIGITS] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000), DECIMAL_DIGITS] = 0,
) -> Response:
    """The busiest route: async end to end, one connection, and usually one statement, which checks the
    token as it reads the page (no cache of live tokens: revoking one takes effect on its next request).
    It writes its own JSON (listed_json): `response_model` stays for the schema, but neither the rows nor
    the page are validated into models on the way out."""
    token = presented_token(credentials)
    verifier = services.token_verifier
    async with services.read_pool.connection() as connection:
        page = None
        if not verifier.known_forged(token):
            page = await reads.integrations_page(connection, hash_token(token), limit=limit, offset=offset)
        if page is None:  # no rows: a token that is not live, or a user with none on this page
            user_id = await verifier.user_for(token, connection)
            if user_id is None:
                raise invalid_token()
            page = reads.IntegrationsPage([], user_id, await reads.total(connection, user_id))
        else:
            verifier.found(token)
    return Response(listed_json(page.rows, page.total, limit, offset), media_type="application/json")


def _not_found(integration_id: uuid.UUID) -> NotFound:
    return NotFound(f"integration {integration_id} not found")


@router.get(
    "/{integration_id:uuid}",
    operation_id="getIntegration",
    summary="Read one integration",
    response_model=IntegrationEnvelope,
    responses=documented_errors(401, 404, 422, 429),
)
def get_integration(
    integration_id: uuid.UUID, response: Response, integrations: OwnedIntegration
) -> IntegrationEnvelope:
    """The `ETag` names this version of the integration: send it back as `If-Match` on PATCH."""
    row = integrations.get(integration_id)
    response.headers["ETag"] = _etag(row)
    return IntegrationEnvelope(integration=IntegrationPublic.model_validate(dict(row)))


@router.patch(
    "/{integration_id:uuid}",
    operation_id="updateIntegration",
    summary="Rename, disable or re-key an integration",
    response_model=IntegrationEnvelope,
    responses=documented_errors(400, 401, 404, 409, 412, 413, 422, 429),
)
def update_integration(
    integration_id: uuid.UUID,
    payload: IntegrationUpdate,
    response: Response,
    user_id: CurrentUser,
    engine: DatabaseEngine,
    box: Secrets,
    if_match: Annotated[str | None, Header(description="Change only if still at this ETag", max_length=500)] = None,
) -> IntegrationEnvelope:
    """One atomic write: fields not sent are left as they are, even if another request changes them meanwhile.
    To not overwrite another writer's change to the same fields, send the `ETag` you read as `If-Match`
    (412 if the integration changed since)."""
    values: dict[str, Any] = {
        name: getattr(payload, name)
        for name in ("integration_name", "is_active", "custom_data")
        if name in payload.model_fields_set
    }
    values.update(_encrypted_secrets(payload, box))
    if "custom_data" in values:
        # customData may point the integration at another company file, tenant or realm: the next sync
        # must fetch that account's whole history, not only what changed since the last sync of the old one.
        values["last_synced_at"] = None
    with engine.begin() as connection:
        row = credentials.update(connection, user_id, integration_id, values, _versions_allowed(if_match))
        current = credentials.get(connection, user_id, integration_id) if row is None else row
    if current is None:
        raise _not_found(integration_id)
    if row is None:
        raise PreconditionFailed(
            f"integration {integration_id} changed since the version in If-Match; read it again and retry",
            headers={"ETag": _etag(current)},
        )
    response.headers["ETag"] = _etag(row)
    return IntegrationEnvelope(integration=IntegrationPublic.model_validate(dict(row)))


@router.delete(
    "/{integration_id:uuid}",
    operation_id="deleteIntegration",
    summary="Delete an integration and everything synced from it",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=documented_errors(401, 404, 409, 422, 429),
)
def delete_integration(integration_id: uuid.UUID, user_id: CurrentUser, engine: DatabaseEngine) -> Response:
    """409 while a sync of it runs: deleting under the run would leave it writing rows for nothing."""
    with engine.begin() as connection:
        if credentials.get(connection, user_id, integration_id) is None:
            raise _not_found(integration_id)  # before the lock: another user's integration is a plain 404
        if not hold_until_commit(connection, integration_id):
            raise Conflict("a sync of this integration is running; delete it once the sync has finished")
        if not credentials.delete(connection, user_id, integration_id):
            raise _not_found(integration_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
