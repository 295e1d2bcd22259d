"""HTTP endpoints of the authorization server, mounted by each OAuth provider at its real paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from provider_sandbox.core.framework import json_response
from provider_sandbox.core.oauth import OAuthError, OAuthServer
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.tenants import Tenant

# The sandbox-only authorize parameter choosing which tenant(s) the consent covers.
TENANT_PARAM = "sandbox_tenant"

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error_response(error: OAuthError) -> Response:
    headers = dict(_NO_STORE)
    if error.basic_challenge:
        headers["WWW-Authenticate"] = 'Basic realm="token"'
    return json_response(error.body(), error.status, headers)


async def read_form(request: Request) -> dict[str, str]:
    """Form or JSON body as a flat dict; bad bodies become an empty dict (-> an OAuth error)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    if "json" in request.headers.get("content-type", ""):
        try:
            data = json.loads(raw or "{}")
        except json.JSONDecodeError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(raw, keep_blank_values=True))


class OAuthProvider(Protocol):
    """What the authorization endpoints need from a provider simulator."""

    @property
    def name(self) -> str: ...

    @property
    def oauth(self) -> OAuthServer: ...

    def tenant(self, tenant_id: str) -> Tenant | None: ...

    def default_tenant(self) -> Tenant | None: ...


class OAuthEndpoints:
    """Authorize (GET), token (POST) and revocation (POST) for one provider.

    `error_renderer` lets a provider that reshapes RFC 6749 errors (Mautic wraps them in its
    `{"errors": [...]}` list) answer in its own format; the default is the RFC shape.
    """

    def __init__(
        self,
        provider: OAuthProvider,
        redirect_extras: Callable[[tuple[str, ...]], Mapping[str, str]] | None = None,
        error_renderer: Callable[[OAuthError], Response] = oauth_error_response,
    ) -> None:
        self.provider = provider
        self.redirect_extras = redirect_extras
        self.error_renderer = error_renderer

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        name, oauth = self.provider.name, self.provider.oauth
        try:
            oauth.check_authorize_request(name, params)
        except OAuthError as error:
            return self.error_renderer(error)
        requested = [t.strip() for t in params.get(TENANT_PARAM, "").split(",") if t.strip()]
        if requested:
            unknown = [t for t in requested if self.provider.tenant(t) is None]
            if unknown:
                return self.error_renderer(
                    OAuthError(400, "invalid_request", f"unknown {TENANT_PARAM}: {', '.join(unknown)}")
                )
            tenant_ids = tuple(requested)
        else:
            default = self.provider.default_tenant()
            tenant_ids = (default.tenant_id,) if default else ()
        extras = self.redirect_extras(tenant_ids) if self.redirect_extras else None
        location = oauth.authorize(name, params, tenant_ids, extras)
        return RedirectResponse(location, status_code=302)

    async def token(self, request: Request) -> Response:
        form = await read_form(request)
        try:
            body = self.provider.oauth.token(self.provider.name, form, request.headers.get("authorization"))
        except OAuthError as error:
            return self.error_renderer(error)
        return json_response(body, 200, dict(_NO_STORE))

    async def revoke(self, request: Request) -> Response:
        form = await read_form(request)
        oauth = self.provider.oauth
        try:
            oauth.authenticate_client(self.provider.name, form, request.headers.get("authorization"))
        except OAuthError as error:
            return self.error_renderer(error)
        if not form.get("token"):
            return self.error_renderer(OAuthError(400, "invalid_request", "token is required"))
        oauth.revoke_token(self.provider.name, form["token"])  # RFC 7009: unknown tokens still get 200
        return Response(status_code=200)


def oauth_routes(
    endpoints: OAuthEndpoints, *, authorize_path: str, exchange_path: str, revoke_path: str | None = None
) -> list[Route[HttpEndpoint]]:
    """The provider's authorization rows at its real paths (no revocation row without `revoke_path`)."""
    routes: list[Route[HttpEndpoint]] = [
        Route("GET", authorize_path, endpoints.authorize),
        Route("POST", exchange_path, endpoints.token),
    ]
    if revoke_path:
        routes.append(Route("POST", revoke_path, endpoints.revoke))
    return routes
