"""QuickBooks Online simulator: Intuit OAuth 2.0 and the Accounting API query endpoint.

Sandbox path                                           Real URL
/quickbooks/appcenter/connect/oauth2                   https://appcenter.intuit.com/connect/oauth2
/quickbooks/oauth/oauth2/v1/tokens/bearer              https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer
/quickbooks/developer/v2/oauth2/tokens/revoke          https://developer.api.intuit.com/v2/oauth2/tokens/revoke
/quickbooks/api/v3/company/{realmId}/query             https://quickbooks.api.intuit.com/v3/company/{realmId}/query

Documented behaviour simulated: 60-minute access tokens plus `x_refresh_token_expires_in`,
`realmId` on the consent redirect, one realm per consent (two consents -> two realms), the query
language (see qbo_query.py) with MAXRESULTS <= 1000, the `QueryResponse` envelope with `time`,
`Fault` errors (4000 parse, 4001 validation, 3200 authentication, 3100 authorization,
3001 throttling -> 429). JSON is only returned to clients that ask for it (`Accept:
application/json`): the real API answers XML otherwise, so a client that forgets the header fails
here too (406 with an XML Fault).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator, json_response
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import TenantSpec, stable_realm_id
from provider_sandbox.qbo_entities import qbo_time, run_query
from provider_sandbox.qbo_query import DEFAULT_MAX_RESULTS, QueryParseError, QueryValidationError, parse_query

_FAULT_TYPES = {
    400: "ValidationFault",
    401: "AUTHENTICATION",
    403: "AUTHORIZATION",
    404: "ValidationFault",
    429: "SERVICE",
}
_PAGING = re.compile(r"\b(STARTPOSITION|MAXRESULTS)\s+(\d+)", re.IGNORECASE)


def _token_fields(body: dict[str, Any], grant: Grant) -> dict[str, Any]:
    body["token_type"] = "bearer"  # noqa: S105 - a token type, not a secret
    body["x_refresh_token_expires_in"] = QuickBooksSimulator.oauth_profile.refresh_ttl_s
    body.pop("scope", None)  # Intuit's token response carries no scope
    return body


class QuickBooksSimulator(ProviderSimulator):
    name = "quickbooks"
    tenant_spec = TenantSpec(id_factory=stable_realm_id, currency="USD", country="US")
    tenant_names: ClassVar[tuple[str, str]] = (
        "Craig's Design and Landscaping Services",
        "Sandbox Company US 2",
    )
    oauth_profile = OAuthProfile(
        provider="quickbooks", access_ttl_s=3600, refresh_ttl_s=8_726_400, decorate=_token_fields
    )

    def router(self) -> APIRouter:
        router = APIRouter()
        mount(
            router,
            oauth_routes(
                OAuthEndpoints(
                    self,
                    redirect_extras=lambda tenants: {"realmId": tenants[0]} if tenants else {},
                ),
                authorize_path="/appcenter/connect/oauth2",
                exchange_path="/oauth/oauth2/v1/tokens/bearer",
                revoke_path="/developer/v2/oauth2/tokens/revoke",
            ),
        )
        router.add_api_route("/api/v3/company/{realm_id}/query", self.query, methods=["GET", "POST"])
        return router

    def invoice_id(self, invoice: Invoice) -> str:
        return str(invoice.seq)

    def contact_id(self, contact: Contact) -> str:
        return str(contact.seq)

    def fault(
        self,
        status: int,
        message: str,
        detail: str,
        code: str,
        fault_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = {
            "Fault": {
                "Error": [{"Message": message, "Detail": detail, "code": code}],
                "type": fault_type or _FAULT_TYPES.get(status, "SystemFault"),
            },
            "time": qbo_time(self.sandbox.clock.now(), millis=True),
        }
        return json_response(body, status, {"intuit_tid": str(uuid.uuid4()), **(headers or {})})

    def error_response(self, status: int, message: str) -> Response:
        if status >= 500:
            return self.fault(
                status,
                "An application error has occurred while processing your request",
                f"System Failure Error: {message}",
                "10000",
            )
        if status == 401:
            return self.fault(401, "message=AuthenticationFailed; errorCode=003200; statusCode=401", message, "3200")
        return self.fault(status, "Request failed", message, str(status))

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        return self.fault(
            429,
            "message=ThrottleExceeded; errorCode=003001; statusCode=429",
            rule.message or "The request limit was reached.",
            "3001",
            "SERVICE",
            headers,
        )

    def page_number(self, request: Request) -> int | None:
        paging = {k.upper(): int(v) for k, v in _PAGING.findall(request.query_params.get("query", ""))}
        size = paging.get("MAXRESULTS", DEFAULT_MAX_RESULTS) or DEFAULT_MAX_RESULTS
        return (paging.get("STARTPOSITION", 1) - 1) // size + 1

    async def query(self, request: Request, realm_id: str) -> Response:
        check = self.check_bearer(request)
        if check.grant is None:
            detail = "Token expired" if check.problem == "expired" else "Token invalid"
            return self.fault(
                401,
                "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                detail,
                "3200",
                headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
            )
        if realm_id not in check.grant.tenant_ids or self.tenant(realm_id) is None:
            return self.fault(
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
        tenant = self.tenant(realm_id)
        assert tenant is not None
        try:
            parsed = parse_query(text or "")
            entity, result = run_query(parsed, tenant)
        except (QueryParseError, QueryValidationError) as error:
            return self.fault(400, error.message, str(error), error.code, "ValidationFault")
        response: dict[str, Any]
        if isinstance(result, int):
            response = {"totalCount": result}
        elif result:
            response = {entity: result, "startPosition": parsed.start_position, "maxResults": len(result)}
        else:
            response = {}  # QuickBooks sends an empty QueryResponse when nothing matches
        body = {"QueryResponse": response, "time": qbo_time(self.sandbox.clock.now(), millis=True)}
        return json_response(body, 200, {"intuit_tid": str(uuid.uuid4())})
