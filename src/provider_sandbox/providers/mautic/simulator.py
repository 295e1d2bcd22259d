"""Mautic simulator: OAuth 2.0 (authorization code, rotating refresh tokens) and the REST API.

Sandbox path                        Real URL (self-hosted: the instance's own host)
/mautic/oauth/v2/authorize          https://<your-mautic>/oauth/v2/authorize
/mautic/oauth/v2/token              https://<your-mautic>/oauth/v2/token
/mautic/api/campaigns ...           https://<your-mautic>/api/campaigns ...

Behaviour from Mautic's source and developer docs (mautic/mautic ApiBundle, FOSOAuthServerBundle
with OAuth2-php): access tokens live 60 minutes, refresh tokens 14 days and ROTATE (the used one
dies: 400 invalid_grant), authorization codes 30 seconds. ApiSubscriber rewrites every /oauth and
/api error into `{"errors": [{"message", "code", "type"}]}`; listings key items BY ID in an object
(`{"total": N, "campaigns": {"7": {...}}}`), and an empty listing is a JSON list `[]` because PHP
encodes an empty array that way. The rate limiter answers 429 with X-RateLimit-* headers.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator, json_response
from provider_sandbox.core.oauth import Grant, OAuthError, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.tenants import Tenant, TenantSpec, stable_uuid
from provider_sandbox.providers.mautic.control import MauticControl
from provider_sandbox.providers.mautic.routes import ROUTES, MauticRoutes
from provider_sandbox.providers.mautic.store import MauticInstance
from provider_sandbox.providers.mautic.wire import DEFAULT_LIMIT

RATE_LIMIT = 100  # calls per hour shown in the 429 message (Mautic's api_rate_limiter_limit)
LISTINGS = ("campaigns", "segments", "contacts")


def mautic_error(status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return json_response({"errors": [{"message": message, "code": status, "type": kind}]}, status, headers)


def _token_body(body: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """FOSOAuthServerBundle's token JSON: lower-case token type, scope null when none."""
    return {**body, "token_type": "bearer", "scope": grant.scope or None}


def _token_error(error: OAuthError) -> Response:
    # OAuth2-php answers every token-endpoint failure with 400, invalid_client included.
    status = 400 if error.status == 401 else error.status
    return mautic_error(status, error.description, error.error, {"Cache-Control": "no-store"})


class MauticSimulator(ProviderSimulator):
    name = "mautic"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="USD", country="US")
    tenant_names: ClassVar[tuple[str, str]] = ("Mautic (default instance)", "Mautic (second instance)")
    oauth_profile = OAuthProfile(
        provider="mautic", access_ttl_s=3600, refresh_ttl_s=14 * 86400, code_ttl_s=30, decorate=_token_body
    )

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.instances: dict[str, MauticInstance] = {}

    def reset(self) -> None:
        self.instances = {}
        self.create_tenant("default", self.tenant_names[0], 0, 0)
        self.create_tenant("secondary", self.tenant_names[1], 0, 0)

    def create_tenant(self, label: str, name: str, invoices: int, contacts: int) -> Tenant:
        """A tenant is one Mautic instance; the OAuth consent picks it (sandbox_tenant)."""
        tenant = super().create_tenant(label, name, 0, 0)
        config = self.sandbox.config.marketing
        default = label == "default"
        self.instances[tenant.tenant_id] = MauticInstance(
            tenant.tenant_id,
            config.mautic_campaigns if default else config.secondary_campaigns,
            config.mautic_contacts if default else config.secondary_contacts,
        )
        return tenant

    def authorize(self, request: Request) -> MauticInstance | Response:
        """The caller's instance, or Mautic's 401 for a missing, expired or revoked token."""
        header = request.headers.get("authorization")
        if header is None and request.query_params.get("access_token"):
            header = f"Bearer {request.query_params['access_token']}"  # Mautic also takes ?access_token=
        check = self.sandbox.oauth.check_bearer(self.name, header)
        if check.grant is None:
            if check.problem == "missing":
                return mautic_error(401, "API authorization denied.", "access_denied")
            if check.problem == "expired":
                return mautic_error(401, "The access token provided has expired.", "invalid_grant")
            return mautic_error(401, "The access token provided is invalid.", "invalid_grant")
        instance = self.instances.get(check.grant.tenant_ids[0]) if check.grant.tenant_ids else None
        if instance is None:
            return mautic_error(401, "The access token provided is invalid.", "invalid_grant")
        return instance

    # --- routes ---------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        oauth = oauth_routes(
            OAuthEndpoints(self, error_renderer=_token_error),
            authorize_path="/oauth/v2/authorize",
            exchange_path="/oauth/v2/token",
        )
        return mount(mount(APIRouter(), oauth), ROUTES, MauticRoutes(self).endpoint)

    def control_router(self) -> APIRouter:
        return mount(APIRouter(), MauticControl(self).routes())

    # --- wire format ---------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        return mautic_error(status, message)

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + (rule.retry_after or 3600)),
        }
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        message = rule.message or f"You exceeded the rate limit of {RATE_LIMIT} API calls per hour."
        body = {"errors": [{"code": 429, "message": message, "details": []}]}
        return json_response(body, 429, headers)

    def page_number(self, request: Request) -> int | None:
        """Listings page with start/limit: page k covers start = (k-1) * limit."""
        if request.method != "GET" or request.url.path.rstrip("/").rsplit("/", 1)[-1] not in LISTINGS:
            return None
        start, limit = request.query_params.get("start", "0"), request.query_params.get("limit", "")
        size = int(limit) if limit.isdigit() and int(limit) > 0 else DEFAULT_LIMIT
        return (int(start) if start.isdigit() else 0) // size + 1
