"""Stripe, through the official SDK: payment history and subscriptions synced, actions taken.

A STRIPE integration holds its account's secret key (apiKey). The SDK's base URL comes from settings
(the real API by default; the sandbox, stripe-mock or localstripe when pointed there), its HTTP goes
through httpx with explicit timeouts and the CAs every provider client trusts, and it retries what
Stripe says is safe to retry with idempotency keys of its own. Amounts stay in minor units (cents),
as Stripe sends them.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import stripe

from integration_service.db.schema import stripe_payments, stripe_subscriptions
from integration_service.providers.base import ApiCredentials, ApiKeyProvider, Linked, Record, RecordSet
from integration_service.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailable,
)
from integration_service.security.tls import provider_trust

PAGE_SIZE = 100  # Stripe's maximum `limit`


class StripeHttp(stripe.HTTPXClient):
    """stripe-python's httpx transport, verifying with our trust (PROVIDER_CA_BUNDLE) for this client only.

    The SDK's own client trusts only `stripe.ca_bundle_path`, a process-wide setting; a stage whose
    Stripe is the provider sandbox behind a private CA needs that CA trusted, the public roots too.
    """

    def __init__(self, timeout: httpx.Timeout, verify: ssl.SSLContext | bool) -> None:
        super().__init__(timeout=timeout, allow_sync_methods=True)
        if self._client is not None:
            self._client.close()
        self._client = httpx.Client(verify=verify)


def _time(seconds: object) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(int(str(seconds)), tz=UTC)


def read_moment() -> datetime:
    """When an API answer was read, to the whole second: Stripe dates events in whole seconds, so a change
    made in the same second as our read must not look older than the state we read."""
    return datetime.now(UTC).replace(microsecond=0)


def charge_row(charge: Mapping[str, Any], _custom_data: Mapping[str, Any] | None = None) -> Record:
    """A charge as a `stripe_payments` row; `state_at` is the moment Stripe's object was read."""
    return {
        "stripe_charge_id": charge["id"],
        "payment_intent_id": _id_of(charge.get("payment_intent")),
        "customer_id": _id_of(charge.get("customer")),
        "amount": charge.get("amount"),
        "amount_refunded": charge.get("amount_refunded") or 0,
        "currency": charge.get("currency"),
        "status": charge.get("status"),
        "refunded": bool(charge.get("refunded")),
        "failure_code": charge.get("failure_code"),
        "failure_message": charge.get("failure_message"),
        "description": charge.get("description"),
        "provider_updated_at": _time(charge.get("created")),
        "state_at": read_moment(),
    }


def subscription_row(subscription: Mapping[str, Any], _custom_data: Mapping[str, Any] | None = None) -> Record:
    items = (subscription.get("items") or {}).get("data") or [{}]
    price = items[0].get("price") or {}
    return {
        "stripe_subscription_id": subscription["id"],
        "customer_id": _id_of(subscription.get("customer")),
        "price_id": _id_of(price),
        "status": subscription.get("status"),
        "cancel_at_period_end": subscription.get("cancel_at_period_end"),
        "current_period_end": _time(subscription.get("current_period_end") or items[0].get("current_period_end")),
        "canceled_at": _time(subscription.get("canceled_at")),
        "provider_updated_at": _time(subscription.get("created")),
        "state_at": read_moment(),
    }


def _id_of(value: object) -> str | None:
    """Stripe fields are either an id or, when expanded, the object itself."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return None if found is None else str(found)
    return str(value)


def as_provider_error(exc: stripe.StripeError) -> ProviderError:
    """Stripe's error, in words safe to store and show (Stripe's own messages mask keys)."""
    message = f"stripe: {exc.user_message or 'request failed'}"
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderAuthError("stripe rejected the integration's API key; set a valid secret key (apiKey)")
    if isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError):
        return ProviderUnavailable(message)
    if isinstance(exc, stripe.APIError):
        return ProviderUnavailable(message)
    return ProviderRequestError(message, exc.http_status)


class Stripe(ApiKeyProvider[stripe.StripeClient]):
    integration_type: ClassVar[str] = "STRIPE"
    slug: ClassVar[str] = "stripe"

    def client(self, linked: Linked, credentials: ApiCredentials, http: httpx.Client) -> stripe.StripeClient:
        timeout = httpx.Timeout(self.settings.http_read_timeout_s, connect=self.settings.http_connect_timeout_s)
        return stripe.StripeClient(
            credentials.api_key,
            base_addresses={"api": self.settings.stripe_api_base_url},
            http_client=StripeHttp(timeout, provider_trust(self.settings.provider_ca_bundle)),
            max_network_retries=max(0, self.settings.http_retry_attempts - 1),
        )

    def record_sets(self) -> dict[str, RecordSet]:
        return {
            "payments": RecordSet(stripe_payments, "stripe_charge_id", charge_row),
            "subscriptions": RecordSet(stripe_subscriptions, "stripe_subscription_id", subscription_row),
        }

    def pages(
        self, api: stripe.StripeClient, data_type: str, modified_since: datetime | None
    ) -> Iterator[list[Record]]:
        """Charges or subscriptions, 100 at a time, following `starting_after` while `has_more`."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if data_type == "subscriptions":
            listing: Any = api.v1.subscriptions.list
            params["status"] = "all"
        else:
            listing = api.v1.charges.list
            if modified_since is not None:
                # Charges change after creation (refunds), so the window is on creation time only as a
                # bound on new charges; state changes arrive by webhook, and a full resync catches up.
                params["created"] = {"gte": int(modified_since.timestamp())}
        while True:
            try:
                page = listing(params=params)
            except stripe.StripeError as exc:
                raise as_provider_error(exc) from None
            records = [item.to_dict() for item in page.data]
            yield records
            if not page.has_more or not records:
                return
            params["starting_after"] = records[-1]["id"]
