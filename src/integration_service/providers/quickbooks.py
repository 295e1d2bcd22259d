"""QuickBooks Online: OAuth 2.0 (Intuit), one realm (company) per connection, the query language.

Paging: `STARTPOSITION n MAXRESULTS m` until a page holds fewer than m. Incremental:
`where Metadata.LastUpdatedTime > '<ISO time>'`. A user connects several companies as several
integrations, each with its own realmId.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import httpx

from integration_service.db.schema import quickbooks_invoices
from integration_service.providers.base import OAuthApp, OAuthProvider, ProviderApi, Record, RecordSet
from integration_service.providers.errors import ProviderRequestError, ProviderResponseError

PAGE_SIZE = 500  # MAXRESULTS may be at most 1000
MINOR_VERSION = "75"


def _date(value: object) -> datetime | None:
    return None if value is None else datetime.combine(date.fromisoformat(str(value)), datetime.min.time(), UTC)


def _timestamp(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _invoice_row(record: Record, custom_data: Mapping[str, Any]) -> Record:
    customer = record.get("CustomerRef") or {}
    currency = record.get("CurrencyRef") or {}
    return {
        "quickbooks_invoice_id": str(record["Id"]),
        "realm_id": custom_data["realmId"],
        "doc_number": record.get("DocNumber"),
        "customer_id": customer.get("value"),
        "customer_name": customer.get("name"),
        "currency_code": currency.get("value"),
        "total_amount": record.get("TotalAmt"),
        "balance": record.get("Balance"),
        "txn_date": _date(record.get("TxnDate")),
        "due_date": _date(record.get("DueDate")),
        "provider_updated_at": _timestamp((record.get("MetaData") or {}).get("LastUpdatedTime")),
    }


class QuickBooks(OAuthProvider):
    integration_type: ClassVar[str] = "QUICKBOOKS"
    slug: ClassVar[str] = "quickbooks"

    def oauth_app(self) -> OAuthApp:
        return OAuthApp(
            client_id=self.settings.quickbooks_client_id,
            client_secret=self.settings.quickbooks_client_secret,
            authorize_url=f"{self.settings.quickbooks_appcenter_base_url}/connect/oauth2",
            token_url=f"{self.settings.quickbooks_oauth_base_url}/oauth2/v1/tokens/bearer",
            scopes=("com.intuit.quickbooks.accounting",),
        )

    def record_sets(self) -> dict[str, RecordSet]:
        return {"invoices": RecordSet(quickbooks_invoices, "quickbooks_invoice_id", _invoice_row)}

    def connection_details(
        self, api: ProviderApi, callback: Mapping[str, str], requested: Mapping[str, Any]
    ) -> dict[str, Any]:
        realm_id = callback.get("realmId")
        if not realm_id or not realm_id.isdigit():
            raise ProviderRequestError("QuickBooks did not name the company (realmId) in its callback")
        return {"realmId": realm_id}

    def test_connection(self, api: ProviderApi) -> None:
        realm_id = str(api.linked.custom_data.get("realmId", ""))
        if not realm_id.isdigit():
            raise ProviderRequestError("customData.realmId must be the QuickBooks company's numeric realm id")
        body = api.get_json(
            f"{self.settings.quickbooks_api_base_url}/v3/company/{realm_id}/query",
            params={"query": "select count(*) from Invoice", "minorversion": MINOR_VERSION},
        )
        if not isinstance(body, dict) or not isinstance(body.get("QueryResponse"), dict):
            raise ProviderResponseError("a QuickBooks query answer has no QueryResponse")

    def pages(self, api: ProviderApi, data_type: str, modified_since: datetime | None) -> Iterator[list[Record]]:
        realm_id = str(api.linked.custom_data.get("realmId", ""))
        if not realm_id.isdigit():
            raise ProviderRequestError("customData.realmId must be the QuickBooks company's numeric realm id")
        where = ""
        if modified_since is not None:
            where = f" where Metadata.LastUpdatedTime > '{modified_since.astimezone(UTC).isoformat()}'"
        start = 1
        while True:
            # Built only from our own integers and a timestamp we formatted: nothing user-supplied.
            query = f"select * from Invoice{where} STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"  # noqa: S608
            body = api.get_json(
                f"{self.settings.quickbooks_api_base_url}/v3/company/{realm_id}/query",
                params={"query": query, "minorversion": MINOR_VERSION},
            )
            if not isinstance(body, dict) or not isinstance(body.get("QueryResponse"), dict):
                raise ProviderResponseError("a QuickBooks query answer has no QueryResponse")
            records = body["QueryResponse"].get("Invoice", [])
            yield records
            if len(records) < PAGE_SIZE:
                return
            start += PAGE_SIZE

    def error_message(self, response: httpx.Response) -> str:
        try:
            fault = response.json().get("Fault") or response.json().get("fault") or {}
            first = (fault.get("Error") or fault.get("error") or [{}])[0]
            message = first.get("Message") or first.get("message") or ""
            return f"HTTP {response.status_code}: {str(message)[:200]} (code {first.get('code', '?')})"
        except (ValueError, AttributeError, IndexError, TypeError):
            return f"HTTP {response.status_code}"
