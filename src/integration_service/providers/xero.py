"""Xero: OAuth 2.0 (login.xero.com / identity.xero.com), tenants from /connections, Accounting API.

Invoices and contacts come 100 to a page (`page=N`); Xero says a page is the last when it holds fewer
than the page size (or, where it sends `pagination`, when `page == pageCount`). Incremental syncs send
`If-Modified-Since`. Dates arrive in MS-JSON form, `/Date(1518685950940+0000)/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from integration_service.db.schema import xero_contacts, xero_invoices
from integration_service.providers.base import (
    OAuthApp,
    OAuthProvider,
    ProviderApi,
    Record,
    RecordSet,
    choose_one,
)
from integration_service.providers.errors import ProviderResponseError

PAGE_SIZE = 100
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def ms_date(value: object) -> datetime | None:
    """`/Date(1518685950940+0000)/` (milliseconds since the epoch, UTC) as a datetime."""
    if value is None:
        return None
    match = _MS_DATE.fullmatch(str(value))
    if match is None:
        raise ProviderResponseError(f"xero sent a date that is not in MS-JSON form: {str(value)[:40]!r}")
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


def _invoice_row(record: Record, _custom_data: Mapping[str, Any]) -> Record:
    contact = record.get("Contact") or {}
    return {
        "xero_invoice_id": record["InvoiceID"],
        "invoice_number": record.get("InvoiceNumber"),
        "invoice_type": record.get("Type"),
        "status": record.get("Status"),
        "contact_id": contact.get("ContactID"),
        "contact_name": contact.get("Name"),
        "currency_code": record.get("CurrencyCode"),
        "sub_total": record.get("SubTotal"),
        "total_tax": record.get("TotalTax"),
        "total": record.get("Total"),
        "amount_due": record.get("AmountDue"),
        "amount_paid": record.get("AmountPaid"),
        "invoice_date": ms_date(record.get("Date")),
        "due_date": ms_date(record.get("DueDate")),
        "provider_updated_at": ms_date(record.get("UpdatedDateUTC")),
    }


def _contact_row(record: Record, _custom_data: Mapping[str, Any]) -> Record:
    return {
        "xero_contact_id": record["ContactID"],
        "name": record.get("Name"),
        "email_address": record.get("EmailAddress"),
        "contact_status": record.get("ContactStatus"),
        "is_customer": record.get("IsCustomer"),
        "is_supplier": record.get("IsSupplier"),
        "provider_updated_at": ms_date(record.get("UpdatedDateUTC")),
    }


class Xero(OAuthProvider):
    integration_type: ClassVar[str] = "XERO"
    slug: ClassVar[str] = "xero"
    _ENDPOINTS: ClassVar[dict[str, str]] = {"invoices": "Invoices", "contacts": "Contacts"}
    # Xero leaves archived contacts out unless asked: without it, a contact archived at Xero would stay
    # ACTIVE here for ever (an incremental sync would never see the change).
    _EXTRA_PARAMS: ClassVar[dict[str, dict[str, str]]] = {"contacts": {"includeArchived": "true"}}

    def oauth_app(self) -> OAuthApp:
        return OAuthApp(
            client_id=self.settings.xero_client_id,
            client_secret=self.settings.xero_client_secret,
            authorize_url=f"{self.settings.xero_login_base_url}/identity/connect/authorize",
            token_url=f"{self.settings.xero_identity_base_url}/connect/token",
            scopes=(
                "openid",
                "profile",
                "email",
                "accounting.transactions.read",
                "accounting.contacts.read",
                "offline_access",
            ),
        )

    def record_sets(self) -> dict[str, RecordSet]:
        return {
            "invoices": RecordSet(xero_invoices, "xero_invoice_id", _invoice_row),
            "contacts": RecordSet(xero_contacts, "xero_contact_id", _contact_row),
        }

    def connection_details(
        self, api: ProviderApi, callback: Mapping[str, str], requested: Mapping[str, Any]
    ) -> dict[str, Any]:
        connections = api.get_json(f"{self.settings.xero_api_base_url}/connections")
        if not isinstance(connections, list):
            raise ProviderResponseError("xero /connections did not answer with a list")
        tenants = {
            str(c["tenantId"]): str(c.get("tenantName", ""))
            for c in connections
            if c.get("tenantType", "ORGANISATION") == "ORGANISATION"
        }
        tenant_id = choose_one(requested.get("tenantId"), tenants, "Xero organisation (tenantId)")
        return {"tenantId": tenant_id, "tenantName": tenants[tenant_id]}

    def test_connection(self, api: ProviderApi) -> None:
        connections = api.get_json(f"{self.settings.xero_api_base_url}/connections")
        tenant_id = api.linked.custom_data.get("tenantId")
        if not isinstance(connections, list) or all(c.get("tenantId") != tenant_id for c in connections):
            raise ProviderResponseError("xero no longer lists this integration's organisation: reconnect it")

    def api_headers(self, custom_data: Mapping[str, Any]) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if "tenantId" in custom_data:
            headers["xero-tenant-id"] = str(custom_data["tenantId"])
        return headers

    def pages(self, api: ProviderApi, data_type: str, modified_since: datetime | None) -> Iterator[list[Record]]:
        endpoint = self._ENDPOINTS[data_type]
        headers = {}
        if modified_since is not None:
            headers["If-Modified-Since"] = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        page = 1
        while True:
            body = api.get_json(
                f"{self.settings.xero_api_base_url}/api.xro/2.0/{endpoint}",
                params={"page": page, "pageSize": PAGE_SIZE, **self._EXTRA_PARAMS.get(data_type, {})},
                headers=headers,
            )
            if not isinstance(body, dict) or not isinstance(body.get(endpoint), list):
                raise ProviderResponseError(f"xero {endpoint} page {page} has no {endpoint} list")
            records = body[endpoint]
            yield records
            pagination = body.get("pagination") or {}
            if "pageCount" in pagination:
                if page >= int(pagination["pageCount"]):
                    return
            elif len(records) < PAGE_SIZE:
                return
            page += 1

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return f"HTTP {response.status_code}"
        if isinstance(body, dict):
            detail = body.get("Detail") or body.get("Message") or body.get("Title")
            if detail:
                return f"HTTP {response.status_code}: {str(detail)[:200]}"
        return f"HTTP {response.status_code}"
