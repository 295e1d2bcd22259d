"""Xero's connections and Accounting API handlers (the identity endpoints are core/oauth_routes.py).

GET    /api/connections, /api/Connections          the tenants a token may reach
DELETE /api/connections/{connection_id}            disconnect one tenant
GET    /api/api.xro/2.0/Invoices | /Contacts       paged, filtered, If-Modified-Since
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.oauth import BearerCheck, Client, Grant
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import Tenant, stable_uuid
from provider_sandbox.providers.xero.wire import (
    LIMIT_HEADERS,
    XeroQueryError,
    ms_json,
    order_key,
    page_params,
    parse_if_modified_since,
    problem,
    render_contact,
    render_invoice,
    validation_error,
    where_filter,
)

_INVOICE_WHERE: dict[str, Callable[[Any], str]] = {
    "Status": lambda inv: inv.status,
    "Type": lambda inv: "ACCREC",
    "InvoiceNumber": lambda inv: inv.number,
}
_INVOICE_ORDER: dict[str, Callable[[Any], Any]] = {
    "UpdatedDateUTC": lambda inv: inv.updated_at,
    "InvoiceNumber": lambda inv: inv.number,
    "Date": lambda inv: inv.issued,
}
_CONTACT_WHERE: dict[str, Callable[[Any], str]] = {
    "ContactStatus": lambda c: "ARCHIVED" if c.archived else "ACTIVE",
    "IsSupplier": lambda c: str(c.is_supplier).lower(),
    "IsCustomer": lambda c: str(not c.is_supplier).lower(),
    "Name": lambda c: c.company,
}
_CONTACT_ORDER: dict[str, Callable[[Any], Any]] = {
    "UpdatedDateUTC": lambda c: c.updated_at,
    "Name": lambda c: c.company,
}


class XeroApi(Protocol):
    """What the Xero API handlers need from the simulator."""

    @property
    def clock(self) -> SandboxClock: ...

    def check_bearer(self, request: Request) -> BearerCheck: ...

    def tenant(self, tenant_id: str) -> Tenant | None: ...

    def client_of(self, client_id: str) -> Client | None: ...


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
            Route("GET", "/api/api.xro/2.0/Invoices", self.invoices),
            Route("GET", "/api/api.xro/2.0/Contacts", self.contacts),
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

    def _tenant_for(self, request: Request) -> tuple[Grant | None, Tenant | None, Response | None]:
        grant, failure = self._auth_failure(request)
        if grant is None:
            return None, None, failure
        tenant_id = request.headers.get("xero-tenant-id", "").strip()
        tenant = self.api.tenant(tenant_id) if tenant_id in grant.tenant_ids else None
        if tenant is None:
            return grant, None, problem(403, "AuthenticationUnsuccessful")
        return grant, tenant, None

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
        self, grant: Grant, key: str, items: list[dict[str, Any]], pagination: dict[str, int] | None
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
        return json_response(body, 200, dict(LIMIT_HEADERS))

    def _select(
        self,
        request: Request,
        records: list[Any],
        where_fields: dict[str, Callable[[Any], str]],
        order_fields: dict[str, Callable[[Any], Any]],
    ) -> tuple[list[Any], int | None, int, int]:
        """Filter, order and page; returns (page records, page, page size, total item count)."""
        params = request.query_params
        page, size = page_params(params.get("page"), params.get("pageSize"))
        selected = records
        since_raw = request.headers.get("if-modified-since")
        if since_raw:
            since: datetime = parse_if_modified_since(since_raw)
            selected = [r for r in selected if r.updated_at >= since]
        if params.get("IDs"):
            wanted = {i.strip().lower() for i in params["IDs"].split(",")}
            selected = [r for r in selected if r.key in wanted]
        if params.get("where"):
            keep = where_filter(params["where"], where_fields)
            selected = [r for r in selected if keep(r)]
        if params.get("order"):
            key, descending = order_key(params["order"], order_fields)
            selected = sorted(selected, key=key, reverse=descending)
        total = len(selected)
        if page is not None:
            selected = selected[(page - 1) * size : page * size]
        return selected, page, size, total

    @staticmethod
    def _pagination(page: int | None, size: int, total: int) -> dict[str, int] | None:
        if page is None:
            return None
        return {"page": page, "pageSize": size, "pageCount": -(-total // size), "itemCount": total}

    async def invoices(self, request: Request) -> Response:
        grant, tenant, failure = self._tenant_for(request)
        if grant is None or tenant is None:
            assert failure is not None
            return failure
        try:
            records: list[Invoice] = list(tenant.invoices)
            if request.query_params.get("Statuses"):
                statuses = {s.strip().upper() for s in request.query_params["Statuses"].split(",")}
                records = [inv for inv in records if inv.status in statuses]
            selected, page, size, total = self._select(request, records, _INVOICE_WHERE, _INVOICE_ORDER)
        except XeroQueryError as error:
            return validation_error(error)
        items = [render_invoice(inv, tenant, with_lines=page is not None) for inv in selected]
        return self._envelope(grant, "Invoices", items, self._pagination(page, size, total))

    async def contacts(self, request: Request) -> Response:
        grant, tenant, failure = self._tenant_for(request)
        if grant is None or tenant is None:
            assert failure is not None
            return failure
        try:
            records: list[Contact] = list(tenant.contacts)
            selected, page, size, total = self._select(request, records, _CONTACT_WHERE, _CONTACT_ORDER)
        except XeroQueryError as error:
            return validation_error(error)
        return self._envelope(
            grant, "Contacts", [render_contact(c) for c in selected], self._pagination(page, size, total)
        )
