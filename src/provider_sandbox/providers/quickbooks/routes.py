"""QuickBooks Online's Accounting API query endpoint (the OAuth endpoints are core/oauth_routes.py).

GET|POST /api/v3/company/{realm_id}/query     the query language of query.py, run by entities.py
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.oauth import BearerCheck
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.tenants import Tenant
from provider_sandbox.providers.quickbooks.entities import qbo_time, run_query
from provider_sandbox.providers.quickbooks.query import QueryParseError, QueryValidationError, parse_query
from provider_sandbox.providers.quickbooks.wire import fault


class QuickBooksApi(Protocol):
    """What the QuickBooks API handlers need from the simulator."""

    @property
    def clock(self) -> SandboxClock: ...

    def check_bearer(self, request: Request) -> BearerCheck: ...

    def tenant(self, tenant_id: str) -> Tenant | None: ...


class QuickBooksRoutes:
    def __init__(self, api: QuickBooksApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/api/v3/company/{realm_id}/query", self.query),
            Route("POST", "/api/v3/company/{realm_id}/query", self.query),
        ]

    async def query(self, request: Request, realm_id: str) -> Response:
        check = self.api.check_bearer(request)
        if check.grant is None:
            detail = "Token expired" if check.problem == "expired" else "Token invalid"
            return fault(
                self.api.clock.now(),
                401,
                "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                detail,
                "3200",
                headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
            )
        if realm_id not in check.grant.tenant_ids or self.api.tenant(realm_id) is None:
            return fault(
                self.api.clock.now(),
                403,
                "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                f"The token is not authorized for realm {realm_id}",
                "3100",
            )
        if "json" not in request.headers.get("accept", ""):
            return Response(
                content=(
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse '
                    'xmlns="http://schema.intuit.com/finance/v3"><Fault type="ValidationFault">'
                    '<Error code="4000"><Message>Unsupported Accept header</Message><Detail>The provider '
                    "sandbox only answers JSON: send Accept: application/json</Detail></Error></Fault>"
                    "</IntuitResponse>"
                ),
                status_code=406,
                media_type="application/xml",
            )
        text = request.query_params.get("query")
        if text is None and request.method == "POST":
            text = (await request.body()).decode("utf-8", errors="replace")
        tenant = self.api.tenant(realm_id)
        assert tenant is not None
        try:
            parsed = parse_query(text or "")
            entity, result = run_query(parsed, tenant)
        except (QueryParseError, QueryValidationError) as error:
            return fault(self.api.clock.now(), 400, error.message, str(error), error.code, "ValidationFault")
        response: dict[str, Any]
        if isinstance(result, int):
            response = {"totalCount": result}
        elif result:
            response = {entity: result, "startPosition": parsed.start_position, "maxResults": len(result)}
        else:
            response = {}  # QuickBooks sends an empty QueryResponse when nothing matches
        body = {"QueryResponse": response, "time": qbo_time(self.api.clock.now(), millis=True)}
        return json_response(body, 200, {"intuit_tid": str(uuid.uuid4())})
