"""Xero simulator: identity (OAuth 2.0), connections and the Accounting API.

Sandbox path                                   Real URL
/xero/login/identity/connect/authorize         https://login.xero.com/identity/connect/authorize
/xero/identity/connect/token                   https://identity.xero.com/connect/token
/xero/identity/connect/revocation              https://identity.xero.com/connect/revocation
/xero/api/connections                          https://api.xero.com/connections
/xero/api/api.xro/2.0/Invoices | /Contacts     https://api.xero.com/api.xro/2.0/Invoices | /Contacts

Documented behaviour simulated: 30-minute access tokens, refresh tokens only with the
`offline_access` scope, `xero-tenant-id` required, 100 records per page (pageSize up to 1000),
If-Modified-Since on UpdatedDateUTC, 401/403 as RFC 7807-style problem bodies
(Type/Title/Status/Detail), 429 with Retry-After and X-Rate-Limit-Problem.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator, json_response
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import Tenant, TenantSpec, stable_uuid
from provider_sandbox.xero_payloads import (
    XeroQueryError,
    ms_json,
    order_key,
    page_params,
    parse_if_modified_since,
    render_contact,
    render_invoice,
    where_filter,
)

_PROBLEM_TITLES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    500: "An error occurred",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Shown on every response, as Xero does; the real limits are not enforced (use rate_limit faults).
_LIMIT_HEADERS = {
    "X-DayLimit-Remaining": "4999",
    "X-MinLimit-Remaining": "59",
    "X-AppMinLimit-Remaining": "9999",
}

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


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {
        "Type": None,
        "Title": _PROBLEM_TITLES.get(status, "Error"),
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return json_response(body, status, headers)


def validation_error(error: XeroQueryError) -> Response:
    body = {"ErrorNumber": error.number, "Type": error.error_type, "Message": str(error), "Elements": []}
    return json_response(body, 400)


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
        router = APIRouter()
        mount(
            router,
            oauth_routes(
                OAuthEndpoints(self),
                authorize_path="/login/identity/connect/authorize",
                exchange_path="/identity/connect/token",
                revoke_path="/identity/connect/revocation",
            ),
        )
        for path in ("/api/connections", "/api/Connections"):
            router.add_api_route(path, self.connections, methods=["GET"])
            router.add_api_route(path + "/{connection_id}", self.delete_connection, methods=["DELETE"])
        router.add_api_route("/api/api.xro/2.0/Invoices", self.invoices, methods=["GET"])
        router.add_api_route("/api/api.xro/2.0/Contacts", self.contacts, methods=["GET"])
        return router

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
            **_LIMIT_HEADERS,
            remaining: "0",
            "Retry-After": str(rule.retry_after or 60),
            "X-Rate-Limit-Problem": rule.limit_problem,
        }
        return problem(429, rule.message or "Rate limit exceeded", headers)

    def page_number(self, request: Request) -> int | None:
        raw = request.query_params.get("page")
        return int(raw) if raw and raw.isdigit() else None

    def _auth_failure(self, request: Request) -> tuple[Grant | None, Response | None]:
        check = self.check_bearer(request)
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
        tenant = self.tenant(tenant_id) if tenant_id in grant.tenant_ids else None
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
            for tenant in (self.tenant(t) for t in grant.tenant_ids)
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
        client = self.client_of(grant.client_id)
        body: dict[str, Any] = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": client.app_name if client else "Sandbox App",
            "DateTimeUTC": ms_json(self.sandbox.clock.now()),
        }
        if pagination is not None:
            body["pagination"] = pagination
        body[key] = items
        return json_response(body, 200, dict(_LIMIT_HEADERS))

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
