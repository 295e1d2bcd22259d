"""HTTP endpoints of the authorization server, mounted by each OAuth provider at its real paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from provider_sandbox.framework import ProviderSimulator, json_response
from provider_sandbox.oauth import OAuthError

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


def add_oauth_routes(
    router: APIRouter,
    simulator: ProviderSimulator,
    *,
    authorize_path: str,
    exchange_path: str,
    revoke_path: str | None = None,
    redirect_extras: Callable[[tuple[str, ...]], Mapping[str, str]] | None = None,
    error_renderer: Callable[[OAuthError], Response] = oauth_error_response,
) -> None:
    """Register authorize (GET), token (POST) and optionally revocation (POST) endpoints.

    `error_renderer` lets a provider that reshapes RFC 6749 errors (Mautic wraps them in its
    `{"errors": [...]}` list) answer in its own format; the default is the RFC shape.
    """

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        oauth = simulator.sandbox.oauth
        try:
            oauth.check_authorize_request(simulator.name, params)
        except OAuthError as error:
            return error_renderer(error)
        requested = [t.strip() for t in params.get(TENANT_PARAM, "").split(",") if t.strip()]
        if requested:
            unknown = [t for t in requested if simulator.tenant(t) is None]
            if unknown:
                return error_renderer(
                    OAuthError(400, "invalid_request", f"unknown {TENANT_PARAM}: {', '.join(unknown)}")
                )
            tenant_ids = tuple(requested)
        else:
            default = simulator.sandbox.tenants.default(simulator.name)
            tenant_ids = (default.tenant_id,) if default else ()
        extras = redirect_extras(tenant_ids) if redirect_extras else None
        location = oauth.authorize(simulator.name, params, tenant_ids, extras)
        return RedirectResponse(location, status_code=302)

    async def token(request: Request) -> Response:
        form = await read_form(request)
        try:
            body = simulator.sandbox.oauth.token(simulator.name, form, request.headers.get("authorization"))
        except OAuthError as error:
            return error_renderer(error)
        return json_response(body, 200, dict(_NO_STORE))

    async def revoke(request: Request) -> Response:
        form = await read_form(request)
        oauth = simulator.sandbox.oauth
        try:
            oauth.authenticate_client(simulator.name, form, request.headers.get("authorization"))
        except OAuthError as error:
            return error_renderer(error)
        if not form.get("token"):
            return error_renderer(OAuthError(400, "invalid_request", "token is required"))
        oauth.revoke_token(simulator.name, form["token"])  # RFC 7009: unknown tokens still get 200
        return Response(status_code=200)

    router.add_api_route(authorize_path, authorize, methods=["GET"], include_in_schema=False)
    router.add_api_route(exchange_path, token, methods=["POST"], include_in_schema=False)
    if revoke_path:
        router.add_api_route(revoke_path, revoke, methods=["POST"], include_in_schema=False)
