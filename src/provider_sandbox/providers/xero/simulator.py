"""Xero simulator: identity (OAuth 2.0), connections and the Accounting API.

Sandbox path                                   Real URL
/xero/login/identity/connect/authorize         https://login.xero.com/identity/connect/authorize
/xero/identity/connect/token                   https://identity.xero.com/connect/token
/xero/identity/connect/revocation              https://identity.xero.com/connect/revocation
/xero/api/connections                          https://api.xero.com/connections
/xero/api/api.xro/2.0/Invoices | /Contacts     https://api.xero.com/api.xro/2.0/Invoices | /Contacts

Identity routes come from core/oauth_routes.py, the API handlers from routes.py, shapes from wire.py.

Documented behaviour simulated: 30-minute access tokens, refresh tokens only with the
`offline_access` scope, `xero-tenant-id` required, 100 records per page (pageSize up to 1000),
If-Modified-Since on UpdatedDateUTC, 401/403 as RFC 7807-style problem bodies
(Type/Title/Status/Detail), 429 with Retry-After and X-Rate-Limit-Problem.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.tenants import TenantSpec, stable_uuid
from provider_sandbox.providers.xero.routes import XeroRoutes
from provider_sandbox.providers.xero.wire import (
    LIMIT_HEADERS,
    problem,
)


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _with_id_token(body: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """Xero returns an OpenID id_token when `openid` was requested (unsigned here: sandbox only)."""
    if "openid" in grant.scope.split():
        claims = {
            "iss": "https://identity.xero.com",
            "aud": grant.client_id,
            "sub": grant.user_id,
            "xero_userid": stable_uuid(grant.user_id),
            "email": f"{grant.user_id}@example.com",
        }
        body["id_token"] = f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims)}.sandbox"
    return body


class XeroSimulator(ProviderSimulator):
    name = "xero"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="AUD", country="AU")
    tenant_names: ClassVar[tuple[str, str]] = ("Demo Company (AU)", "Sandbox Trading (NZ)")
    oauth_profile = OAuthProfile(
        provider="xero",
        access_ttl_s=1800,
        refresh_ttl_s=60 * 86400,
        refresh_scope="offline_access",
        decorate=_with_id_token,
    )

    def router(self) -> APIRouter:
        oauth = oauth_routes(
            OAuthEndpoints(self),
            authorize_path="/login/identity/connect/authorize",
            exchange_path="/identity/connect/token",
            revoke_path="/identity/connect/revocation",
        )
        return mount(APIRouter(), [*oauth, *XeroRoutes(self).routes()])

    # --- errors ----------------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        return problem(status, message)

    def rate_limit_response(self, rule: FaultRule) -> Response:
        remaining = {
            "minute": "X-MinLimit-Remaining",
            "day": "X-DayLimit-Remaining",
            "appminute": "X-AppMinLimit-Remaining",
        }[rule.limit_problem]
        headers = {
            **LIMIT_HEADERS,
            remaining: "0",
            "Retry-After": str(rule.retry_after or 60),
            "X-Rate-Limit-Problem": rule.limit_problem,
        }
        return problem(429, rule.message or "Rate limit exceeded", headers)

    def page_number(self, request: Request) -> int | None:
        raw = request.query_params.get("page")
        return int(raw) if raw and raw.isdigit() else None
