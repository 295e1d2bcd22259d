"""Xero simulator: identity (OAuth 2.0), connections and the Accounting API.

Sandbox path                                   Real URL
/xero/login/identity/connect/authorize         https://login.xero.com/identity/connect/authorize
/xero/identity/connect/token                   https://identity.xero.com/connect/token
/xero/identity/connect/revocation              https://identity.xero.com/connect/revocation
/xero/api/connections                          https://api.xero.com/connections
/xero/api/api.xro/2.0/Invoices[/{id}]          https://api.xero.com/api.xro/2.0/Invoices[/{id}]
/xero/api/api.xro/2.0/Contacts[/{id}]          https://api.xero.com/api.xro/2.0/Contacts[/{id}]
/xero/api/api.xro/2.0/Organisation             https://api.xero.com/api.xro/2.0/Organisation

Identity routes come from core/oauth_routes.py, the API handlers from routes.py (listings in listing.py,
`where`/`order` in where.py), shapes from shapes.py and wire.py, call budgets from limits.py, control
routes (`/_sandbox/xero/...`) from control.py.

Documented behaviour simulated: 30-minute access tokens, refresh tokens only with the
`offline_access` scope, `xero-tenant-id` required, 100 records per page (pageSize up to 1000),
every query parameter of GET Invoices / GET Contacts, If-Modified-Since on UpdatedDateUTC, 401/403/404
as RFC 7807-style problem bodies (Type/Title/Status/Detail), the API limits (60 calls a minute and 5,000
a day per app and tenant, 10,000 a minute per app; configurable) with their headers, and 429 with
Retry-After and X-Rate-Limit-Problem.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator, Sandbox
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.tenants import TenantSpec, stable_uuid
from provider_sandbox.providers.xero.control import XeroControl
from provider_sandbox.providers.xero.limits import REMAINING_HEADERS, XeroBudgets
from provider_sandbox.providers.xero.routes import XeroRoutes
from provider_sandbox.providers.xero.wire import problem, rate_limited


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

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.budgets = XeroBudgets(sandbox.config.xero_limits)

    def reset(self) -> None:
        super().reset()
        self.budgets = XeroBudgets(self.sandbox.config.xero_limits)  # counts cleared, configured limits back

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
        # An injected 429 is the test's choice, not the budgets': it spends nothing and shows the whole
        # budgets but for the limit it names.
        remaining = {**self.budgets.unspent_headers(), REMAINING_HEADERS[rule.limit_problem]: "0"}
        return rate_limited(rule.limit_problem, rule.retry_after or 60, remaining, rule.message)

    def control_router(self) -> APIRouter:
        return mount(APIRouter(), XeroControl(self).routes())

    def page_number(self, request: Request) -> int | None:
        raw = request.query_params.get("page")
        return int(raw) if raw and raw.isdigit() else None
