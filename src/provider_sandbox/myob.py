"""MYOB AccountRight Live simulator: OAuth 2.0, company file list and Sale/Invoice (OData paging).

Sandbox path                                        Real URL
/myob/secure/oauth2/account/authorize               https://secure.myob.com/oauth2/account/authorize
/myob/secure/oauth2/v1/authorize   (token, POST)    https://secure.myob.com/oauth2/v1/authorize
/myob/api/accountright/                             https://api.myob.com/accountright/
/myob/api/accountright/{cf_uid}/Sale/Invoice[/{t}]  https://api.myob.com/accountright/{cf_uid}/Sale/Invoice

Documented behaviour simulated: 20-minute access tokens (`expires_in` is a string, "1200", as
MYOB sends it), headers `x-myobapi-key` (the API key = OAuth client id) and
`x-myobapi-version: v2` required, `x-myobapi-cftoken` optional, OData `$top` (default 400, max 1000),
`$skip`, `$filter`, `$orderby`, the `Items`/`NextPageLink`/`Count` envelope, errors as an `Errors`
array, and throttling as 403 with a `RateLimitError` body.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator, json_response
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.oauth_routes import OAuthEndpoints, oauth_routes
from provider_sandbox.core.routing import mount
from provider_sandbox.core.seed import Invoice
from provider_sandbox.core.tenants import Tenant, TenantSpec, stable_uuid
from provider_sandbox.myob_odata import ODataError, apply_odata, page_number_of

_INFORMATION = "Warning, error messages have not been finalised in this release and may change"
_ERROR_NAMES = {
    400: "BadRequest",
    401: "OAuthTokenIsInvalid",
    403: "AccessDenied",
    404: "NotFound",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_STATUS = {"DRAFT": "Open", "AUTHORISED": "Open", "PAID": "Closed", "VOIDED": "Closed"}
_LINK_SAFE = "$',:"  # keep NextPageLink readable, as MYOB's own links are
INVOICE_TYPES = ("Item", "Service", "Professional", "TimeBilling", "Miscellaneous")


def errors(
    status: int,
    name: str,
    message: str,
    details: str | None = None,
    code: int = 0,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "Errors": [
            {
                "Name": name,
                "Message": message,
                "AdditionalDetails": details,
                "ErrorCode": code,
                "Severity": "Error",
                "LearnMore": None,
            }
        ],
        "Information": _INFORMATION,
    }
    return json_response(body, status, headers)


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
        router = APIRouter()
        mount(
            router,
            oauth_routes(
                OAuthEndpoints(self),
                authorize_path="/secure/oauth2/account/authorize",
                exchange_path="/secure/oauth2/v1/authorize",
            ),
        )
        router.add_api_route("/api/accountright/", self.company_files, methods=["GET"])
        router.add_api_route("/api/accountright", self.company_files, methods=["GET"])
        router.add_api_route("/api/accountright/{cf_uid}/Sale/Invoice", self.invoices, methods=["GET"])
        router.add_api_route("/api/accountright/{cf_uid}/Sale/Invoice/{invoice_type}", self.invoices, methods=["GET"])
        return router

    def error_response(self, status: int, message: str) -> Response:
        return errors(status, _ERROR_NAMES.get(status, "Error"), message)

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        message = rule.message or "API key has exceeded the per-second rate limit"
        return errors(403, "RateLimitError", message, "Header: x-myobapi-key", 0, headers)

    def page_number(self, request: Request) -> int | None:
        return page_number_of(request.query_params)

    def _authorize(self, request: Request) -> tuple[Grant | None, Response | None]:
        """API key first (the gateway checks it before anything else), then token, then version."""
        api_key = request.headers.get("x-myobapi-key", "")
        if not api_key or self.client_of(api_key) is None:
            return None, errors(403, "DeveloperInactive", "API key is missing or inactive", "Header: x-myobapi-key")
        check = self.check_bearer(request)
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
        return f"{str(request.base_url).rstrip('/')}{self.prefix}/api/accountright/{tenant.tenant_id}"

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
            for tenant in (self.tenant(t) for t in grant.tenant_ids)
            if tenant is not None
        ]
        return json_response(body)

    async def invoices(self, request: Request, cf_uid: str, invoice_type: str | None = None) -> Response:
        grant, failure = self._authorize(request)
        if grant is None:
            assert failure is not None
            return failure
        tenant = self.tenant(cf_uid)
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
            next_link = f"{base}?{urlencode(params, safe=_LINK_SAFE)}"
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
            "Status": _STATUS[invoice.status],
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
