"""Confirming a PayPal event with PayPal before it changes anything, as PayPal recommends.

PayPal's signature covers the body only through a CRC32, which anyone can match with a few padding
bytes: a signed body proves that PayPal sent *a* transmission, not what it said. So for every event
that changes a row, the resource is fetched from PayPal's API with the credentials of an integration
that owns the row, and the event is applied with PayPal's answer in place of the body's resource:

- sale events: `GET /v1/payments/sale/{id}`
- PAYMENT.SALE.REFUNDED: `GET /v1/payments/refund/{id}`, which must be a refund of the event's sale
- subscription events: `GET /v1/billing/subscriptions/{id}`
- CHECKOUT.ORDER.APPROVED: `GET /v2/checkout/orders/{id}`; PAYMENT.CAPTURE.COMPLETED:
  `GET /v2/payments/captures/{id}` (webhooks/paypal_order_events.py)

PayPal not knowing the resource (a 4xx) makes the event unconfirmed: refused, nothing stored, so a
genuine event that arrived before PayPal's API shows its resource is simply redelivered later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, RowMapping

from integration_service.providers.base import Linked
from integration_service.providers.credentials import load_api_credentials
from integration_service.providers.errors import ProviderAuthError, ProviderRequestError
from integration_service.providers.paypal import PayPal
from integration_service.providers.paypal_client import PayPalClient
from integration_service.security.encryption import SecretBox
from integration_service.webhooks import paypal_events
from integration_service.webhooks import paypal_order_events as order_events
from integration_service.webhooks.paypal_events import REFUNDED, SALE_STATES, Incoming
from integration_service.webhooks.paypal_order_events import ORDER_EVENTS

_PAYPAL_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")  # goes into a URL path: no `/`, `.` or `%`


class EventUnconfirmed(Exception):
    """PayPal does not confirm the resource the event names; `reason` says which and why (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Confirmation:
    event: dict[str, Any]  # the event with PayPal's own resource when confirmed, else as received
    confirmed: bool


@dataclass(frozen=True)
class PayPalAccess:
    """What it takes to call PayPal as one of our integrations."""

    engine: Engine
    box: SecretBox
    provider: PayPal
    http: httpx.Client

    def client(self, owner: RowMapping) -> PayPalClient:
        credentials = load_api_credentials(self.engine, self.box, owner["integration_id"])
        return self.provider.client(Linked(owner["integration_id"], owner["user_id"], {}), credentials, self.http)


def resource_path(incoming: Incoming) -> tuple[str, str]:
    """(what the resource is, its PayPal API path)."""
    resource_id = str(incoming.resource.get("id") or "")
    if incoming.event_type in SALE_STATES:
        return f"sale {resource_id}", f"/v1/payments/sale/{resource_id}"
    if incoming.event_type == REFUNDED:
        return f"refund {resource_id} of sale {incoming.resource['sale_id']}", f"/v1/payments/refund/{resource_id}"
    if incoming.event_type in ORDER_EVENTS:
        return order_events.resource_path(incoming.event_type, incoming.resource)
    return f"subscription {resource_id}", f"/v1/billing/subscriptions/{resource_id}"


def confirm(event: dict[str, Any], incoming: Incoming, access: PayPalAccess) -> Confirmation:
    """The event as PayPal confirms it; EventUnconfirmed, or ProviderUnavailable when PayPal cannot answer."""
    if not incoming.changes_state:
        return Confirmation(event, confirmed=False)
    with access.engine.connect() as connection:
        owners = paypal_events.owners(connection, incoming)
    if not owners:
        return Confirmation(event, confirmed=False)  # nothing of ours to change: stored as unmatched
    what, path = resource_path(incoming)
    if not _PAYPAL_ID.match(str(incoming.resource.get("id") or "")):
        raise EventUnconfirmed(f"the event names no valid PayPal {what.split()[0]} id")
    try:
        answer = access.client(owners[0]).get_json(path)
    except ProviderAuthError as exc:
        raise EventUnconfirmed(f"PayPal could not be asked about the {what}: {exc.message}") from None
    except ProviderRequestError as exc:
        raise EventUnconfirmed(f"PayPal does not confirm the {what}: {exc.message}") from None
    if not isinstance(answer, dict) or str(answer.get("id")) != str(incoming.resource["id"]):
        raise EventUnconfirmed(f"PayPal's answer about the {what} is not that {what.split()[0]}")
    if incoming.event_type == REFUNDED and str(answer.get("sale_id")) != str(incoming.resource["sale_id"]):
        raise EventUnconfirmed(f"PayPal's {what.split(' of ')[0]} is a refund of another sale")
    return Confirmation({**event, "resource": answer}, confirmed=True)
