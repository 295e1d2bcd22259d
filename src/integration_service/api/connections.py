"""OAuth connections: `GET /api/integrations/{provider}/connect` and its `/callback`.

`connect` (with the user's API token) answers 302 to the provider's consent page, carrying a state
that is random, single-use, expiring and bound to that user, and sets a cookie holding the same state
that binds the flow to the browser that follows the redirect. The provider sends the browser back to
`callback` (no API token: the state and its cookie are the proof), which exchanges the code, learns
which organisation / company file / realm was connected, and stores the tokens encrypted.

Without the cookie, a consent URL started by one user and opened in someone else's browser would
link that person's organisation to the starter's account; with it, only the starting browser can finish.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from integration_service.api.dependencies import AppServices, AppSettings, CurrentUser, DatabaseEngine, Secrets
from integration_service.api.errors import BadRequest, Unavailable, documented_errors
from integration_service.api.integrations import IntegrationEnvelope, IntegrationPublic
from integration_service.api.models import ApiModel, Name
from integration_service.api.services import Services
from integration_service.db import credentials, oauth_states
from integration_service.providers.base import Linked, OAuthProvider
from integration_service.providers.errors import ProviderError
from integration_service.providers.http import RetryPolicy
from integration_service.providers.registry import oauth_providers
from integration_service.providers.session import ProviderSession, fixed_token
from integration_service.providers.tokens import TokenSet, describe_oauth_failure, oauth_client, oauth_failures
from integration_service.settings import Settings

router = APIRouter(prefix="/api/integrations", tags=["connections"])

ConnectableProvider = StrEnum(
    "ConnectableProvider", {"xero": "xero", "myob": "myob", "quickbooks": "quickbooks", "mautic": "mautic"}
)
ChoiceId = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


class AuthorizationRedirect(ApiModel):
    authorization_url: str


def _provider(services: Services, slug: str) -> OAuthProvider:
    return oauth_providers(services.providers)[slug]


def redirect_uri(public_url: str, provider: OAuthProvider) -> str:
    return f"{public_url}/api/integrations/{provider.slug}/callback"


def _state_cookie_name(state: str) -> str:
    # One cookie per flow, named after its state: two tabs connecting two accounts do not clash.
    return "oauth_state_" + hashlib.sha256(state.encode()).hexdigest()[:16]


def _state_cookie(settings: Settings, provider: OAuthProvider) -> dict[str, Any]:
    """Where the browser keeps it: sent only to this provider's callback, never readable by scripts,
    sent on the provider's top-level redirect back (Lax), and only over HTTPS outside the local stage."""
    return {
        "path": f"/api/integrations/{provider.slug}/callback",
        "httponly": True,
        "secure": settings.public_url.startswith("https://"),  # which it must be outside the local stage
        "samesite": "lax",
    }


def _require_same_browser(request: Request, state: str) -> None:
    cookie = request.cookies.get(_state_cookie_name(state))
    if cookie is None or not hmac.compare_digest(cookie.encode(), state.encode()):
        raise BadRequest(
            "this browser did not start this authorisation (its state cookie is missing or does not match); "
            "start connecting again in the browser that will complete it"
        )


@router.get(
    "/{provider}/connect",
    operation_id="connectIntegration",
    summary="Start connecting an account (OAuth 2.0)",
    status_code=status.HTTP_302_FOUND,
    response_model=AuthorizationRedirect,
    responses={
        302: {"model": AuthorizationRedirect, "description": "Redirect to the provider's consent page"},
        **documented_errors(401, 422, 429, 503),
    },
)
def connect(
    services: AppServices,
    provider: ConnectableProvider,
    user_id: CurrentUser,
    engine: DatabaseEngine,
    settings: AppSettings,
    integration_name: Annotated[Name | None, Query(alias="integrationName")] = None,
    tenant_id: Annotated[ChoiceId | None, Query(alias="tenantId", description="Xero organisation")] = None,
    company_file_id: Annotated[ChoiceId | None, Query(alias="companyFileId", description="MYOB file")] = None,
) -> JSONResponse:
    chosen = _provider(services, provider.value)
    missing = chosen.missing_settings()
    if missing:
        names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
        raise Unavailable(f"{names} {'are' if len(missing) > 1 else 'is'} not configured on this service")
    app = chosen.oauth_app()
    requested = {key: value for key, value in (("tenantId", tenant_id), ("companyFileId", company_file_id)) if value}
    with engine.begin() as connection:
        state = oauth_states.create(
            connection, user_id, chosen.integration_type, integration_name or "", requested, settings.oauth_state_ttl_s
        )
    with oauth_client(
        app, settings, scope=" ".join(app.scopes), redirect_uri=redirect_uri(settings.public_url, chosen)
    ) as client:
        url, _ = client.create_authorization_url(app.authorize_url, state=state, **chosen.authorize_params())
    body = AuthorizationRedirect(authorization_url=url).model_dump(by_alias=True)
    response = JSONResponse(body, status_code=status.HTTP_302_FOUND, headers={"Location": url})
    cookie = _state_cookie(settings, chosen)
    response.set_cookie(_state_cookie_name(state), state, max_age=settings.oauth_state_ttl_s, **cookie)
    return response


@router.get(
    "/{provider}/callback",
    operation_id="completeConnection",
    summary="Finish connecting an account (the provider redirects here)",
    response_model=IntegrationEnvelope,
    responses=documented_errors(400, 422, 429, 503),
)
def callback(
    request: Request,
    response: Response,
    provider: ConnectableProvider,
    services: AppServices,
    engine: DatabaseEngine,
    box: Secrets,
    settings: AppSettings,
    state: Annotated[str, Query(min_length=1, max_length=200)],
    code: Annotated[str | None, Query(min_length=1, max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    realm_id: Annotated[str | None, Query(alias="realmId", max_length=40)] = None,
) -> IntegrationEnvelope:
    """Visited by the browser that followed `connect`'s redirect: it must carry the `oauth_state_…` cookie
    that `connect` set for this state (400 otherwise, and the state stays unspent)."""
    chosen = _provider(services, provider.value)
    # Checked before the state is consumed: a browser that did not start the flow cannot spend it either.
    _require_same_browser(request, state)
    response.delete_cookie(_state_cookie_name(state), **_state_cookie(settings, chosen))
    with engine.begin() as connection:
        pending = oauth_states.consume(connection, state, chosen.integration_type)
    if pending is None:
        raise BadRequest("the authorisation state is unknown, already used or expired; start connecting again")
    if error is not None or code is None:
        raise BadRequest(f"the provider did not authorise the connection ({error or 'no code'})")
    app = chosen.oauth_app()
    try:
        with oauth_client(app, settings, redirect_uri=redirect_uri(settings.public_url, chosen)) as client:
            tokens = TokenSet.from_response(dict(client.fetch_token(app.token_url, code=code)))
    except oauth_failures() as exc:
        raise BadRequest(f"exchanging the authorisation code failed: {describe_oauth_failure(exc)}") from None
    callback_params = {"realmId": realm_id} if realm_id else {}
    linked = Linked(None, pending["user_id"])
    session = ProviderSession(
        chosen, linked, services.http, fixed_token(tokens.access_token), RetryPolicy.from_settings(settings)
    )
    try:
        details: dict[str, Any] = chosen.connection_details(session, callback_params, pending["custom_data"])
    except ProviderError as exc:
        raise BadRequest(f"connected, but {exc.message}") from None
    name = pending["integration_name"] or _default_name(chosen, details)
    with engine.begin() as connection:
        row = credentials.upsert_connection(
            connection,
            pending["user_id"],
            chosen.integration_type,
            name,
            {**tokens.columns(box), "custom_data": details},
        )
    return IntegrationEnvelope(integration=IntegrationPublic.model_validate(dict(row)))


def _default_name(provider: OAuthProvider, details: dict[str, Any]) -> str:
    label = details.get("tenantName") or details.get("companyFileName") or details.get("realmId") or "account"
    return f"{provider.slug} {label}"[:200]
