"""MYOB AccountRight Live simulator: OAuth 2.0, company file list and Sale/Invoice (OData paging).

Sandbox path                                        Real URL
/myob/secure/oauth2/account/authorize               https://secure.myob.com/oauth2/account/authorize
/myob/secure/oauth2/v1/authorize   (token, POST)    https://secure.myob.com/oauth2/v1/authorize
/myob/api/accountright/                             https://api.myob.com/accountright/
/myob/api/accountright/{cf_uid}/Sale/Invoice[/{t}]  https://api.myob.com/accountright/{cf_uid}/Sale/Invoice

Identity routes come from core/oauth_routes.py, the API handlers from routes.py, error shapes from wire.py.

Documented behaviour simulated: 20-minute access tokens (`expires_in` is a string, "1200", as
MYOB sends it), headers `x-myobapi-key` (the API key = OAuth client id) and
`x-myobapi-version: v2` required, `x-myobapi-cftoken` optional, OData `$top` (default 400, max 1000),
`$skip`, `$filter`, `$orderby`, the `Items`/`NextPageLink`/`Count` envelope, errors as an `Errors`
array, and throttling as 403 with a `RateLimitError` body.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.tenants import TenantSpec, stable_uuid
from provider_sandbox.providers.myob.odata import page_number_of
from provider_sandbox.providers.myob.routes import MyobRoutes
from provider_sandbox.providers.myob.wire import ERROR_NAMES, errors


def _token_fields(body: dict[str, Any], grant: Grant) -> dict[str, Any]:
    body["token_type"] = "bearer"  # noqa: S105 - a token type, not a secret
    body["expires_in"] = str(body["expires_in"])
    body["user"] = {
        "uid": stable_uuid(f"myob-user/{grant.user_id}"),
        "username": f"{grant.user_id}@example.com",
    }
    return body


class MyobSimulator(ProviderSimulator):
    name = "myob"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="AUD", country="AU")
    tenant_names: ClassVar[tuple[str, str]] = ("Clearwater Pty Ltd", "Bayside Joinery")
    oauth_profile = OAuthProfile(provider="myob", access_ttl_s=1200, refresh_ttl_s=365 * 86400, decorate=_token_fields)

    def router(self) -> APIRouter:
        oauth = oauth_routes(
            OAuthEndpoints(self),
            authorize_path="/secure/oauth2/account/authorize",
            exchange_path="/secure/oauth2/v1/authorize",
        )
        return mount(APIRouter(), [*oauth, *MyobRoutes(self).routes()])

    def error_response(self, status: int, message: str) -> Response:
        return errors(status, ERROR_NAMES.get(status, "Error"), message)

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        message = rule.message or "API key has exceeded the per-second rate limit"
        return errors(403, "RateLimitError", message, "Header: x-myobapi-key", 0, headers)

    def page_number(self, request: Request) -> int | None:
        return page_number_of(request.query_params)
