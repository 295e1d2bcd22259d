"""PayPal: an API-key provider (the REST app's client id and secret), Payments v1 and Billing v1.

Synced:
- `payments`: `GET /v1/payments/payment?count=20[&start_id=...]`, following `next_id` until PayPal
  sends none. Incremental runs add `start_time` (PayPal filters on creation time); state changes of
  older payments (refunds) arrive by webhook, and `fullResync` re-reads everything.
- `subscriptions`: Billing v1 has no endpoint that lists subscriptions, so a sync re-reads, by id,
  the subscriptions this integration already knows (created through the service or seen in a
  webhook) with `GET /v1/billing/subscriptions/{id}`.

A payment's `state` column holds its sale's state once there is a sale (completed, denied,
partially_refunded, refunded), else the payment's own (created, approved, failed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx

from integration_service.db.schema import paypal_payments, paypal_subscriptions
from integration_service.providers.base import ApiCredentials, ApiKeyProvider, Linked, Record, RecordSet
from integration_service.providers.errors import ProviderRequestError, ProviderResponseError
from integration_service.providers.http import RetryPolicy
from integration_service.providers.paypal_client import PayPalClient
from integration_service.settings import Settings

PAGE_SIZE = 20  # PayPal's maximum `count` for v1 payments
MAX_PAGES = 100_000  # a loop guard: a provider that keeps sending next_id must not spin for ever
KnownIds = Callable[[uuid.UUID], list[str]]


def paypal_time(value: object) -> datetime | None:
    """RFC 3339 (`2024-01-31T10:00:00Z`, optionally with fractions or an offset) as an aware datetime."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ProviderResponseError(f"PayPal sent a time that is not RFC 3339: {str(value)[:40]!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def money(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ProviderResponseError(f"PayPal sent an amount that is not a number: {str(value)[:20]!r}") from None


def first_sale(payment: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for transaction in payment.get("transactions") or []:
        for related in transaction.get("related_resources") or []:
            if isinstance(related, dict) and isinstance(related.get("sale"), dict):
                sale: Mapping[str, Any] = related["sale"]
                return sale
    return None


def payment_row(record: Record, _custom_data: Mapping[str, Any] | None = None) -> Record:
    transactions = record.get("transactions") or [{}]
    amount = transactions[0].get("amount") or {}
    sale = first_sale(record)
    source = sale if sale is not None else record
    moment = paypal_time(source.get("update_time") or source.get("create_time"))
    payer = (record.get("payer") or {}).get("payer_info") or {}
    return {
        "paypal_payment_id": str(record["id"]),
        "sale_id": None if sale is None else str(sale["id"]),
        "intent": record.get("intent"),
        "state": source.get("state"),
        "amount": money(amount.get("total")),
        "currency": amount.get("currency"),
        "payer_id": payer.get("payer_id"),
        "state_at": moment,
        "provider_updated_at": moment,
    }


def subscription_row(record: Record, _custom_data: Mapping[str, Any] | None = None) -> Record:
    moment = paypal_time(record.get("update_time") or record.get("status_update_time") or record.get("create_time"))
    return {
        "paypal_subscription_id": str(record["id"]),
        "plan_id": record.get("plan_id"),
        "status": record.get("status"),
        "subscriber_email": (record.get("subscriber") or {}).get("email_address"),
        "start_time": paypal_time(record.get("start_time")),
        "state_at": moment,
        "provider_updated_at": moment,
    }


def _nothing_known(_integration_id: uuid.UUID) -> list[str]:
    return []


class PayPal(ApiKeyProvider[PayPalClient]):
    integration_type: ClassVar[str] = "PAYPAL"
    slug: ClassVar[str] = "paypal"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # Which subscription ids an integration already has, since PayPal cannot list them; the app
        # binds the database lookup (app.py: db/paypal_rows.py known_subscription_ids).
        self.known_subscriptions: KnownIds = _nothing_known

    def record_sets(self) -> dict[str, RecordSet]:
        return {
            # refunded_amount is deliberately not synced: a v1 payment does not carry it reliably, and
            # the webhook's absolute figure must not be reset to 0 by a later sync.
            "payments": RecordSet(paypal_payments, "paypal_payment_id", payment_row),
            "subscriptions": RecordSet(paypal_subscriptions, "paypal_subscription_id", subscription_row),
        }

    def client(self, linked: Linked, credentials: ApiCredentials, http: httpx.Client) -> PayPalClient:
        return PayPalClient(
            linked,
            credentials,
            http,
            self.settings.paypal_base_url,
            RetryPolicy.from_settings(self.settings),
            self.settings.token_refresh_margin_s,
        )

    def test_connection(self, api: PayPalClient) -> None:
        """A client-credentials token proves the REST app's id and secret (ProviderAuthError if not)."""
        api.access_token()

    def pages(self, api: PayPalClient, data_type: str, modified_since: datetime | None) -> Iterator[list[Record]]:
        if data_type == "payments":
            yield from self._payment_pages(api, modified_since)
        elif data_type == "subscriptions":
            yield from self._subscription_pages(api)
        else:
            raise ProviderRequestError(f"paypal has no {data_type} to sync")

    def _payment_pages(self, api: PayPalClient, modified_since: datetime | None) -> Iterator[list[Record]]:
        params: dict[str, Any] = {"count": PAGE_SIZE}
        if modified_since is not None:
            params["start_time"] = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = api.get_json("/v1/payments/payment", params)
            if not isinstance(body, dict) or not isinstance(body.get("payments", []), list):
                raise ProviderResponseError("PayPal's payment list has no `payments` array")
            yield list(body.get("payments", []))
            next_id = body.get("next_id")
            if not next_id:
                return
            if next_id in seen:
                raise ProviderResponseError(f"PayPal sent next_id {next_id!r} twice; stopping to avoid a loop")
            seen.add(next_id)
            params["start_id"] = next_id
        raise ProviderResponseError(f"PayPal kept sending next_id for {MAX_PAGES} pages")

    def _subscription_pages(self, api: PayPalClient) -> Iterator[list[Record]]:
        assert api.linked.integration_id is not None
        ids = self.known_subscriptions(api.linked.integration_id)
        for start in range(0, len(ids), PAGE_SIZE):
            page = []
            for subscription_id in ids[start : start + PAGE_SIZE]:
                try:
                    page.append(api.get_json(f"/v1/billing/subscriptions/{subscription_id}"))
                except ProviderRequestError as exc:
                    if exc.status_code != 404:
                        raise
                    # Gone at PayPal (e.g. a sandbox reset): nothing to refresh; the row keeps its last state.
            yield page
