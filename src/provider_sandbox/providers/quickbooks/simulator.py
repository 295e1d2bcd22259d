"""QuickBooks Online simulator: Intuit OAuth 2.0 and the Accounting API query endpoint.

Sandbox path                                           Real URL
/quickbooks/appcenter/connect/oauth2                   https://appcenter.intuit.com/connect/oauth2
/quickbooks/oauth/oauth2/v1/tokens/bearer              https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer
/quickbooks/developer/v2/oauth2/tokens/revoke          https://developer.api.intuit.com/v2/oauth2/tokens/revoke
/quickbooks/api/v3/company/{realmId}/query             https://quickbooks.api.intuit.com/v3/company/{realmId}/query

Documented behaviour simulated: 60-minute access tokens plus `x_refresh_token_expires_in`,
`realmId` on the consent redirect, one realm per consent (two consents -> two realms), the query
language (see query.py) with MAXRESULTS <= 1000, the `QueryResponse` envelope with `time`,
`Fault` errors (4000 parse, 4001 validation, 3200 authentication, 3100 authorization,
3001 throttling -> 429). JSON is only returned to clients that ask for it (`Accept:
application/json`): the real API answers XML otherwise, so a client that forgets the header fails
here too (406 with an XML Fault).

OAuth routes come from core/oauth_routes.py, the query handler from routes.py, the Fault envelope from
wire.py.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import TenantSpec, stable_realm_id
from provider_sandbox.providers.quickbooks.query import DEFAULT_MAX_RESULTS
from provider_sandbox.providers.quickbooks.routes import QuickBooksRoutes
from provider_sandbox.providers.quickbooks.wire import fault

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
        oauth = oauth_routes(
            OAuthEndpoints(self, redirect_extras=lambda tenants: {"realmId": tenants[0]} if tenants else {}),
            authorize_path="/appcenter/connect/oauth2",
            exchange_path="/oauth/oauth2/v1/tokens/bearer",
            revoke_path="/developer/v2/oauth2/tokens/revoke",
        )
        return mount(APIRouter(), [*oauth, *QuickBooksRoutes(self).routes()])

    def invoice_id(self, invoice: Invoice) -> str:
        return str(invoice.seq)

    def contact_id(self, contact: Contact) -> str:
        return str(contact.seq)

    def error_response(self, status: int, message: str) -> Response:
        if status >= 500:
            return fault(
                self.clock.now(),
                status,
                "An application error has occurred while processing your request",
                f"System Failure Error: {message}",
                "10000",
            )
        if status == 401:
            return fault(
                self.clock.now(), 401, "message=AuthenticationFailed; errorCode=003200; statusCode=401", message, "3200"
            )
        return fault(self.clock.now(), status, "Request failed", message, str(status))

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        return fault(
            self.clock.now(),
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
