"""MYOB AccountRight handlers: the company file list and Sale/Invoice with OData paging.

GET /api/accountright[/]                               company files the token may open
GET /api/accountright/{cf_uid}/Sale/Invoice[/{type}]   invoices ($top, $skip, $filter, $orderby)
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import Request, Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.core.oauth import BearerCheck, Client, Grant
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.seed import Invoice
from provider_sandbox.core.tenants import Tenant, stable_uuid
from provider_sandbox.providers.myob.odata import ODataError, apply_odata
from provider_sandbox.providers.myob.wire import INVOICE_TYPES, LINK_SAFE, STATUS, errors


class MyobApi(Protocol):
    """What the MYOB API handlers need from the simulator."""

    @property
    def prefix(self) -> str: ...

    def check_bearer(self, request: Request) -> BearerCheck: ...

    def client_of(self, client_id: str) -> Client | None: ...

    def tenant(self, tenant_id: str) -> Tenant | None: ...


class MyobRoutes:
    def __init__(self, api: MyobApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/api/accountright/", self.company_files),
            Route("GET", "/api/accountright", self.company_files),
            Route("GET", "/api/accountright/{cf_uid}/Sale/Invoice", self.invoices),
            Route("GET", "/api/accountright/{cf_uid}/Sale/Invoice/{invoice_type}", self.invoices),
        ]

    def _authorize(self, request: Request) -> tuple[Grant | None, Response | None]:
        """API key first (the gateway checks it before anything else), then token, then version."""
        api_key = request.headers.get("x-myobapi-key", "")
        if not api_key or self.api.client_of(api_key) is None:
            return None, errors(403, "DeveloperInactive", "API key is missing or inactive", "Header: x-myobapi-key")
        check = self.api.check_bearer(request)
        if check.grant is None:
            reason = "has expired" if check.problem == "expired" else "is not valid"
            return None, errors(
                401,
                "OAuthTokenIsInvalid",
                f"The supplied OAuth token (Bearer) {reason}",
                "Header: Authorization",
                31001,
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if check.grant.client_id != api_key:
            return None, errors(
                401,
                "OAuthTokenIsInvalid",
                "The supplied OAuth token (Bearer) was not issued to this API key",
                "Header: x-myobapi-key",
                31001,
            )
        if request.headers.get("x-myobapi-version", "").lower() != "v2":
            return None, errors(
                400,
                "UnsupportedApiVersion",
                "The x-myobapi-version header must be v2",
                "Header: x-myobapi-version",
            )
        return check.grant, None

    def _file_uri(self, request: Request, tenant: Tenant) -> str:
        return f"{str(request.base_url).rstrip('/')}{self.api.prefix}/api/accountright/{tenant.tenant_id}"

    async def company_files(self, request: Request) -> Response:
        grant, failure = self._authorize(request)
        if grant is None:
            assert failure is not None
            return failure
        body = [
            {
                "Id": tenant.tenant_id,
                "Name": tenant.name,
                "LibraryPath": tenant.name,
                "ProductVersion": "2024.2",
                "ProductLevel": {"Code": 30, "Name": "Plus"},
                "CheckedOutDate": None,
                "CheckedOutBy": None,
                "Uri": self._file_uri(request, tenant),
                "Country": tenant.country,
                "LauncherId": stable_uuid(f"launcher/{tenant.tenant_id}"),
                "SerialNumber": str(600_000_000_000 + int(uuid.UUID(tenant.tenant_id)) % 10**11),
                "UIAccessFlags": 2,
            }
            for tenant in (self.api.tenant(t) for t in grant.tenant_ids)
            if tenant is not None
        ]
        return json_response(body)

    async def invoices(self, request: Request, cf_uid: str, invoice_type: str | None = None) -> Response:
        grant, failure = self._authorize(request)
        if grant is None:
            assert failure is not None
            return failure
        tenant = self.api.tenant(cf_uid)
        if tenant is None:
            return errors(404, "NotFound", "Company file not found", f"Company file {cf_uid}", 150)
        if cf_uid not in grant.tenant_ids:
            return errors(
                403,
                "AccessDenied",
                "Access denied to the company file",
                "The authorising user did not grant this company file",
                0,
            )
        if invoice_type is not None and invoice_type not in INVOICE_TYPES:
            return errors(404, "NotFound", f"Unknown invoice type {invoice_type}")
        records = [inv for inv in tenant.invoices if invoice_type in (None, self._type_of(inv))]
        try:
            page, total, top, skip = apply_odata(records, request.query_params)
        except ODataError as error:
            return errors(400, "InvalidQuery", str(error), "Query string", 0)
        base = f"{self._file_uri(request, tenant)}/Sale/Invoice" + (f"/{invoice_type}" if invoice_type else "")
        next_link = None
        if skip + top < total:
            params = {k: v for k, v in request.query_params.items() if k not in ("$top", "$skip")}
            params.update({"$top": str(top), "$skip": str(skip + top)})
            next_link = f"{base}?{urlencode(params, safe=LINK_SAFE)}"
        items = [self._render(request, tenant, inv) for inv in page]
        return json_response({"Items": items, "NextPageLink": next_link, "Count": total})

    @staticmethod
    def _type_of(invoice: Invoice) -> str:
        return INVOICE_TYPES[invoice.seq % 2]  # a mix of Item and Service invoices

    def _render(self, request: Request, tenant: Tenant, invoice: Invoice) -> dict[str, Any]:
        contact = tenant.contact(invoice.contact_seq)
        file_uri = self._file_uri(request, tenant)
        kind = self._type_of(invoice)
        return {
            "UID": invoice.key,
            "Number": f"{invoice.seq:08d}",
            "Date": f"{invoice.issued.isoformat()}T00:00:00",
            "CustomerPurchaseOrderNumber": invoice.reference[:20],
            "Customer": {
                "UID": contact.key,
                "Name": contact.company,
                "DisplayID": f"CUS{contact.seq:06d}",
                "URI": f"{file_uri}/Contact/Customer/{contact.key}",
            },
            "PromisedDate": None,
            "BalanceDueAmount": invoice.amount_due,
            "Status": STATUS[invoice.status],
            "InvoiceType": kind,
            "Terms": {
                "PaymentIsDue": "InAGivenNumberOfDays",
                "DiscountDate": 0,
                "BalanceDueDate": (invoice.due - invoice.issued).days,
                "DiscountForEarlyPayment": 0.0,
                "MonthlyChargeForLatePayment": 0.0,
                "DueDate": f"{invoice.due.isoformat()}T00:00:00",
            },
            "IsTaxInclusive": False,
            "Subtotal": invoice.subtotal,
            "Freight": 0.0,
            "TotalTax": invoice.total_tax,
            "TotalAmount": invoice.total,
            "Category": None,
            "Comment": "Thank you for your business.",
            "ShippingMethod": None,
            "JournalMemo": f"Sale; {contact.company}",
            "LastPaymentDate": f"{invoice.paid_on.isoformat()}T00:00:00" if invoice.paid_on else None,
            "InvoiceDeliveryStatus": "Print",
            "OnlinePaymentMethod": "All",
            "ForeignCurrency": None,
            "CurrencyExchangeRate": 1.0,
            "LastModified": invoice.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
            "URI": f"{file_uri}/Sale/Invoice/{kind}/{invoice.key}",
            "RowVersion": str(7_000_000_000_000 + invoice.seq * 1000 + invoice.version),
        }
