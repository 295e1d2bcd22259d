"""MYOB AccountRight (cloud): OAuth 2.0 at secure.myob.com, company files, OData paging.

Every API call carries `x-myobapi-key` (the client id) and `x-myobapi-version: v2`. Invoices page
with `$top`/`$skip`; MYOB says there is more by sending `NextPageLink`, which we follow only on the
API's own host, so a bearer token is never sent anywhere else. Rate limits arrive as
403 with a `RateLimitError`, not 429.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from integration_service.db.schema import myob_invoices
from integration_service.providers.base import (
    OAuthApp,
    OAuthProvider,
    ProviderApi,
    Record,
    RecordSet,
    choose_one,
)
from integration_service.providers.errors import ProviderRequestError, ProviderResponseError
from integration_service.providers.http import default_is_retryable

_COMPANY_FILE_ID = re.compile(r"[0-9A-Fa-f-]{8,64}")
PAGE_SIZE = 400  # MYOB's documented maximum for $top is 1000; 400 keeps responses small


def _timestamp(value: object) -> datetime | None:
    """MYOB's local-less ISO timestamps (`2024-03-01T10:15:00` or with offset) as UTC datetimes."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _invoice_row(record: Record, custom_data: Mapping[str, Any]) -> Record:
    customer = record.get("Customer") or {}
    return {
        "myob_invoice_uid": record["UID"],
        "company_file_id": custom_data["companyFileId"],
        "invoice_number": record.get("Number"),
        "invoice_type": record.get("InvoiceType"),
        "status": record.get("Status"),
        "customer_uid": customer.get("UID"),
        "customer_name": customer.get("Name"),
        "subtotal": record.get("Subtotal"),
        "total_tax": record.get("TotalTax"),
        "total_amount": record.get("TotalAmount"),
        "balance_due_amount": record.get("BalanceDueAmount"),
        "invoice_date": _timestamp(record.get("Date")),
        "provider_updated_at": _timestamp(record.get("LastModified")),
    }


class Myob(OAuthProvider):
    integration_type: ClassVar[str] = "MYOB"
    slug: ClassVar[str] = "myob"

    def oauth_app(self) -> OAuthApp:
        return OAuthApp(
            client_id=self.settings.myob_client_id,
            client_secret=self.settings.myob_client_secret,
            authorize_url=f"{self.settings.myob_secure_base_url}/oauth2/account/authorize",
            token_url=f"{self.settings.myob_secure_base_url}/oauth2/v1/authorize",
            scopes=("CompanyFile",),
            token_auth_method="client_secret_post",  # noqa: S106 - a method name, not a secret
        )

    def record_sets(self) -> dict[str, RecordSet]:
        return {"invoices": RecordSet(myob_invoices, "myob_invoice_uid", _invoice_row)}

    def connection_details(
        self, api: ProviderApi, callback: Mapping[str, str], requested: Mapping[str, Any]
    ) -> dict[str, Any]:
        files = api.get_json(f"{self.settings.myob_api_base_url}/accountright/")
        if not isinstance(files, list):
            raise ProviderResponseError("myob /accountright/ did not answer with a list of company files")
        options = {str(f["Id"]): str(f.get("Name", "")) for f in files}
        file_id = choose_one(requested.get("companyFileId"), options, "MYOB company file (companyFileId)")
        return {"companyFileId": file_id, "companyFileName": options[file_id]}

    def test_connection(self, api: ProviderApi) -> None:
        files = api.get_json(f"{self.settings.myob_api_base_url}/accountright/")
        if not isinstance(files, list):
            raise ProviderResponseError("myob /accountright/ did not answer with a list of company files")

    def api_headers(self, custom_data: Mapping[str, Any]) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "x-myobapi-key": self.settings.myob_client_id,
            "x-myobapi-version": "v2",
        }

    def pages(self, api: ProviderApi, data_type: str, modified_since: datetime | None) -> Iterator[list[Record]]:
        file_id = str(api.linked.custom_data.get("companyFileId", ""))
        if not _COMPANY_FILE_ID.fullmatch(file_id):
            raise ProviderRequestError("customData.companyFileId must be a MYOB company file id (a GUID)")
        base = f"{self.settings.myob_api_base_url}/accountright/{file_id}/Sale/Invoice"
        params: dict[str, Any] | None = {"$top": PAGE_SIZE, "$orderby": "LastModified"}
        if modified_since is not None and params is not None:
            since = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            params["$filter"] = f"LastModified gt datetime'{since}'"
        url: str | None = base
        while url is not None:
            body = api.get_json(url, params=params)
            if not isinstance(body, dict) or not isinstance(body.get("Items"), list):
                raise ProviderResponseError("a MYOB invoice page has no Items list")
            yield body["Items"]
            url, params = body.get("NextPageLink"), None  # the link carries its own query
            if url is not None and not url.startswith(self.settings.myob_api_base_url + "/"):
                raise ProviderResponseError("MYOB's NextPageLink points off the API host; refusing to follow")

    def is_retryable(self, response: httpx.Response) -> bool:
        if response.status_code == 403 and "RateLimit" in response.text:
            return True
        return default_is_retryable(response)

    def error_message(self, response: httpx.Response) -> str:
        try:
            errors = response.json().get("Errors") or []
            first = errors[0]
            return f"HTTP {response.status_code}: {first.get('Name', '')} {str(first.get('Message', ''))[:200]}"
        except (ValueError, AttributeError, IndexError, TypeError):
            return f"HTTP {response.status_code}"
