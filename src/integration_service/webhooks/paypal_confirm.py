"""Confirming a PayPal event with PayPal before it changes anything, as PayPal recommends.

PayPal's signature covers the body only through a CRC32, which anyone can match with a few padding
bytes: a signed body proves that PayPal sent *a* transmission, not what it said. So for every event
that changes a row, PayPal's API is asked, with the credentials of an integration that owns the row:

1. the event itself, `GET /v1/notifications/webhooks-events/{event_id}`: PayPal must know the event
   and its `event_type` and resource id must be the body's. A forged body that reuses a genuine
   event's id under another type or about another resource is refused here, so it is never stored
   under that id and cannot make the genuine event a duplicate.
2. the resource, whose current state is applied in place of the body's resource:
   - sale events: `GET /v1/payments/sale/{id}`
   - PAYMENT.SALE.REFUNDED: `GET /v1/payments/refund/{id}`, which must be a refund of the event's sale
   - subscription events: `GET /v1/billing/subscriptions/{id}`
   - CHECKOUT.ORDER.APPROVED: `GET /v2/checkout/orders/{id}`; PAYMENT.CAPTURE.COMPLETED:
     `GET /v2/payments/captures/{id}` (webhooks/paypal_order_events.py)

The owners are tried in turn (at most OWNERS_ASKED) while PayPal refuses their credentials (a revoked
or disabled REST app); PayPal's answer about the event (a 404, say) is final. PayPal not knowing the
event or the resource (a 4xx), or every owner's credentials refused, makes the event unconfirmed:
refused, nothing stored, so a genuine event that arrived before PayPal's API shows it is simply
redelivered later. Events of other types change nothing and are not confirmed: they are stored
`ignored`, which never makes a later delivery with the same id a duplicate (paypal_events.py).
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
EVENT_PATH = "/v1/notifications/webhooks-events"
OWNERS_ASKED = 3  # owners tried in turn while PayPal refuses their credentials


class EventUnconfirmed(Exception):
    """PayPal does not confirm the event or the resource it names; `reason` says which and why (no secrets)."""

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
    if not _PAYPAL_ID.match(incoming.event_id):
        raise EventUnconfirmed("the event's id is not a valid PayPal event id")
    client = _sent_by_paypal(incoming, what, owners, access)
    try:
        answer = client.get_json(path)
    except ProviderAuthError as exc:
        raise EventUnconfirmed(f"PayPal could not be asked about the {what}: {exc.message}") from None
    except ProviderRequestError as exc:
        raise EventUnconfirmed(f"PayPal does not confirm the {what}: {exc.message}") from None
    if not isinstance(answer, dict) or str(answer.get("id")) != str(incoming.resource["id"]):
        raise EventUnconfirmed(f"PayPal's answer about the {what} is not that {what.split()[0]}")
    if incoming.event_type == REFUNDED and str(answer.get("sale_id")) != str(incoming.resource["sale_id"]):
        raise EventUnconfirmed(f"PayPal's {what.split(' of ')[0]} is a refund of another sale")
    return Confirmation({**event, "resource": answer}, confirmed=True)


def _sent_by_paypal(incoming: Incoming, what: str, owners: list[RowMapping], access: PayPalAccess) -> PayPalClient:
    """The client of the first owner whose credentials PayPal accepts, once PayPal has shown it the
    event: the body's id, `event_type` and resource id. EventUnconfirmed otherwise."""
    claim = f"event {incoming.event_id} ({incoming.event_type} about the {what})"
    refusals = []
    for owner in owners[:OWNERS_ASKED]:
        try:
            client = access.client(owner)
            sent = client.get_json(f"{EVENT_PATH}/{incoming.event_id}")
        except ProviderAuthError as exc:  # this integration's credentials only: another owner may ask
            refusals.append(exc.message)
            continue
        except ProviderRequestError as exc:  # PayPal's answer about the event, whoever asks
            raise EventUnconfirmed(f"PayPal does not confirm {claim}: {exc.message}") from None
        if not _same_event(sent, incoming):
            raise EventUnconfirmed(f"PayPal sent {claim.split(' (')[0]} with another event_type or resource")
        return client
    raise EventUnconfirmed(f"PayPal could not be asked about {claim}: {'; '.join(refusals)}")


def _same_event(sent: Any, incoming: Incoming) -> bool:
    resource = sent.get("resource") if isinstance(sent, dict) else None
    return (
        isinstance(resource, dict)
        and sent.get("id") == incoming.event_id
        and sent.get("event_type") == incoming.event_type
        and str(resource.get("id")) == str(incoming.resource["id"])
    )
