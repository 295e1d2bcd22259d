"""Connection tests: `POST /api/integrations/{id}/test`, and the same test when an API-key integration
is created, so that a bad key or an unreachable instance is a clear 422 then, not a failed first sync.

Each provider implements `SyncProvider.test_connection(api)` with one cheap authenticated call; the
default says "not supported" (the test route answers 422; creating skips the test).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter
from pydantic import SecretStr

from integration_service.api.errors import (
    InvalidInput,
    ServiceError,
    documented_errors,
)
from integration_service.api.models import ApiModel
from integration_service.api.owned import OwnedIntegration, ensure_active
from integration_service.providers.base import ApiCredentials, ApiKeyProvider, Linked, SyncProvider
from integration_service.providers.errors import (
    ConnectionTestUnsupported,
    ProviderAddressRefused,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailable,
)
from integration_service.security.redaction import scrub

router = APIRouter(prefix="/api/integrations", tags=["integrations"])


class ConnectionFailed(ServiceError):
    status_code, code = 422, "connection_failed"


def _failed(provider: SyncProvider[Any], exc: ProviderError) -> ConnectionFailed:
    field = {
        ProviderAuthError: "apiKey",
        ProviderUnavailable: "customData.baseUrl",
        ProviderAddressRefused: "customData.baseUrl",
    }.get(type(exc))
    return ConnectionFailed(
        f"the {provider.slug} connection test failed: {scrub(exc.message)}",
        details={"provider": provider.slug, "field": field},
    )


def verify_new_integration(
    http: httpx.Client,
    provider: ApiKeyProvider[Any],
    user_id: str,
    custom_data: Mapping[str, Any],
    api_key: SecretStr | None,
    api_secret: SecretStr | None,
) -> dict[str, Any]:
    """customData as the provider normalises it, after testing the credentials (when a key is given)."""
    try:
        checked = provider.check_custom_data(custom_data)
    except ProviderRequestError as exc:
        raise InvalidInput(exc.message, details=[{"field": "customData", "message": exc.message}]) from None
    # Only providers that have a test build a client here: a client is the provider's own business.
    if api_key is None or type(provider).test_connection is SyncProvider.test_connection:
        return checked
    secret = None if api_secret is None else api_secret.get_secret_value()
    try:
        api = provider.client(Linked(None, user_id, checked), ApiCredentials(api_key.get_secret_value(), secret), http)
        provider.test_connection(api)
    except ProviderError as exc:
        raise _failed(provider, exc) from None
    return checked


class ConnectionTest(ApiModel):
    ok: bool
    provider: str
    checked_at: datetime


@router.post(
    "/{integration_id:uuid}/test",
    operation_id="testIntegrationConnection",
    summary="Test an integration's connection with one cheap authenticated call to the provider",
    response_model=ConnectionTest,
    responses=documented_errors(401, 404, 409, 422, 429),
)
def test_integration(integration_id: uuid.UUID, integrations: OwnedIntegration) -> ConnectionTest:
    """200 when the provider accepted the stored credentials; 422 `connection_failed` saying why not."""
    row = integrations.get(integration_id)
    services = integrations.services
    provider = services.providers.get(row["integration_type"])
    if provider is None:
        raise InvalidInput(f"{row['integration_type']} integrations have no connection test")
    ensure_active(row, "to test it")
    try:
        linked = Linked(integration_id, integrations.user_id, dict(row["custom_data"]))
        api = services.sync_engine.api_for(provider, linked)
        provider.test_connection(api)
    except ConnectionTestUnsupported as exc:
        raise InvalidInput(exc.message) from None
    except ProviderError as exc:
        raise _failed(provider, exc) from None
    return ConnectionTest(ok=True, provider=provider.slug, checked_at=datetime.now(UTC))
