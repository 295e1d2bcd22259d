"""Xero's connections and Accounting API handlers (the identity endpoints are core/oauth_routes.py).

GET    /api/connections, /api/Connections          the tenants a token may reach
DELETE /api/connections/{connection_id}            disconnect one tenant
GET    /api/api.xro/2.0/Invoices | /Contacts       paged, filtered, If-Modified-Since (listing.py)
GET    /api/api.xro/2.0/Invoices/{InvoiceID}       one invoice (by id or number), with its line items
GET    /api/api.xro/2.0/Contacts/{ContactID}       one contact
GET    /api/api.xro/2.0/Organisation               the tenant's organisation

Every Accounting API call is counted against the app's budgets for its tenant (limits.py) and carries the
X-*Limit-Remaining headers. /connections is not: it names no tenant, and Xero documents its limits per
tenant (and per app across tenants); the sandbox leaves it uncounted rather than guess.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.oauth import BearerCheck, Client, Grant
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.tenants import Tenant, stable_uuid
from provider_sandbox.providers.xero.limits import XeroBudgets
from provider_sandbox.providers.xero.listing import find_contact, find_invoice, list_contacts, list_invoices
from provider_sandbox.providers.xero.shapes import render_contact, render_invoice, render_organisation
from provider_sandbox.providers.xero.wire import (
    XeroQueryError,
    ms_json,
    problem,
    rate_limited,
    record_not_found,
    unit_decimals,
    validation_error,
)

ACCOUNTING = "/api/api.xro/2.0"


class XeroApi(Protocol):
    """What the Xero API handlers need from the simulator."""

    @property
    def clock(self) -> SandboxClock: ...

    @property
    def budgets(self) -> XeroBudgets: ...

    def check_bearer(self, request: Request) -> BearerCheck: ...

    def tenant(self, tenant_id: str) -> Tenant | None: ...

    def client_of(self, client_id: str) -> Client | None: ...


@dataclass(frozen=True)
class TenantCall:
    """An Accounting API call that passed authentication and named a tenant its token may reach."""

    request: Request
    grant: Grant
    tenant: Tenant


class XeroRoutes:
    def __init__(self, api: XeroApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        rows: list[Route[HttpEndpoint]] = []
        for path in ("/api/connections", "/api/Connections"):
            rows += [
                Route("GET", path, self.connections),
                Route("DELETE", path + "/{connection_id}", self.delete_connection),
            ]
        return [
            *rows,
            Route("GET", f"{ACCOUNTING}/Invoices", self.invoices),
            Route("GET", f"{ACCOUNTING}/Invoices/{{invoice_id}}", self.invoice),
            Route("GET", f"{ACCOUNTING}/Contacts", self.contacts),
            Route("GET", f"{ACCOUNTING}/Contacts/{{contact_id}}", self.contact),
            Route("GET", f"{ACCOUNTING}/Organisation", self.organisation),
        ]

    def _auth_failure(self, request: Request) -> tuple[Grant | None, Response | None]:
        check = self.api.check_bearer(request)
        if check.grant is not None:
            return check.grant, None
        if check.problem == "expired" and check.expired_at is not None:
            detail = f"TokenExpired: token expired at {check.expired_at:%m/%d/%Y %H:%M:%S}"
        else:
            detail = "AuthenticationUnsuccessful"
        return None, problem(401, detail, {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _tenant_call(self, request: Request) -> TenantCall | Response:
        grant, failure = self._auth_failure(request)
        if grant is None:
            assert failure is not None
            return failure
        tenant_id = request.headers.get("xero-tenant-id", "").strip()
        tenant = self.api.tenant(tenant_id) if tenant_id in grant.tenant_ids else None
        if tenant is None:
            return problem(403, "AuthenticationUnsuccessful")
        return TenantCall(request, grant, tenant)

    def _metered(self, request: Request, answer: Callable[[TenantCall], Response]) -> Response:
        """Authenticate, count the call against the app's budgets for the tenant (429 once one is spent),
        answer it, and show what is left of each budget."""
        call = self._tenant_call(request)
        if isinstance(call, Response):
            return call
        now = self.api.clock.now().timestamp()
        verdict = self.api.budgets.charge(call.grant.client_id, call.tenant.tenant_id, now)
        if verdict.limit_problem is not None:
            return rate_limited(verdict.limit_problem, verdict.retry_after_s, verdict.headers, None)
        try:
            response = answer(call)
        except XeroQueryError as error:
            response = validation_error(error)
        response.headers.update(verdict.headers)
        return response

    # --- identity ------------------------------------------------------------------------------

    async def connections(self, request: Request) -> Response:
        grant, failure = self._auth_failure(request)
        if grant is None:
            assert failure is not None
            return failure
        # Xero prints .NET ticks (7 digits); the "Z" keeps it an RFC 3339 date-time as its spec demands.
        stamp = grant.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        body = [
            {
                "id": self._connection_id(grant, tenant.tenant_id),
                "authEventId": str(uuid.UUID(grant.grant_id)),
                "tenantId": tenant.tenant_id,
                "tenantType": "ORGANISATION",
                "tenantName": tenant.name,
                "createdDateUtc": stamp,
                "updatedDateUtc": stamp,
            }
            for tenant in (self.api.tenant(t) for t in grant.tenant_ids)
            if tenant is not None
        ]
        return json_response(body)

    async def delete_connection(self, request: Request, connection_id: str) -> Response:
        grant, failure = self._auth_failure(request)
        if grant is None:
            assert failure is not None
            return failure
        remaining = tuple(t for t in grant.tenant_ids if self._connection_id(grant, t) != connection_id)
        if remaining == grant.tenant_ids:
            return problem(404, "Connection not found")
        grant.tenant_ids = remaining
        return Response(status_code=204)

    @staticmethod
    def _connection_id(grant: Grant, tenant_id: str) -> str:
        return stable_uuid(f"connection/{grant.grant_id}/{tenant_id}")

    # --- accounting ----------------------------------------------------------------------------

    def _envelope(
        self, grant: Grant, key: str, items: list[dict[str, Any]], pagination: dict[str, int] | None = None
    ) -> Response:
        client = self.api.client_of(grant.client_id)
        body: dict[str, Any] = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": client.app_name if client else "Sandbox App",
            "DateTimeUTC": ms_json(self.api.clock.now()),
        }
        if pagination is not None:
            body["pagination"] = pagination
        body[key] = items
        return json_response(body)

    async def invoices(self, request: Request) -> Response:
        return self._metered(request, self._invoice_listing)

    async def invoice(self, request: Request, invoice_id: str) -> Response:
        return self._metered(request, lambda call: self._one_invoice(call, invoice_id))

    async def contacts(self, request: Request) -> Response:
        return self._metered(request, self._contact_listing)

    async def contact(self, request: Request, contact_id: str) -> Response:
        return self._metered(request, lambda call: self._one_contact(call, contact_id))

    async def organisation(self, request: Request) -> Response:
        return self._metered(
            request, lambda call: self._envelope(call.grant, "Organisations", [render_organisation(call.tenant)])
        )

    def _invoice_listing(self, call: TenantCall) -> Response:
        found = list_invoices(call.request.query_params, call.request.headers.get("if-modified-since"), call.tenant)
        items = [
            render_invoice(
                invoice,
                call.tenant,
                with_lines=found.with_lines,
                summary=found.summary_only,
                unit_decimals=found.unit_decimals,
            )
            for invoice in found.records
        ]
        return self._envelope(call.grant, "Invoices", items, found.pagination)

    def _contact_listing(self, call: TenantCall) -> Response:
        found = list_contacts(call.request.query_params, call.request.headers.get("if-modified-since"), call.tenant)
        items = [render_contact(contact, summary=found.summary_only) for contact in found.records]
        return self._envelope(call.grant, "Contacts", items, found.pagination)

    def _one_invoice(self, call: TenantCall, invoice_id: str) -> Response:
        decimals = unit_decimals(call.request.query_params.get("unitdp"))
        invoice = find_invoice(call.tenant, invoice_id)
        if invoice is None:
            return record_not_found()
        body = render_invoice(invoice, call.tenant, with_lines=True, unit_decimals=decimals)
        return self._envelope(call.grant, "Invoices", [body])

    def _one_contact(self, call: TenantCall, contact_id: str) -> Response:
        contact = find_contact(call.tenant, contact_id)
        if contact is None:
            return record_not_found()
        return self._envelope(call.grant, "Contacts", [render_contact(contact)])
