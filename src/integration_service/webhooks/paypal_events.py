"""Applying a verified PayPal event: stored by its id, applied once, in the same transaction.

Sale events change the payment rows with that sale id (or, before we know the sale, its parent
payment); subscription events change the rows with that subscription id, in every integration that
has one; order events (paypal_order_events.py) the order rows they name. The merge rules in
db/paypal_rows.py make the final state independent of delivery order.
Refunded amounts are recomputed as an absolute total from every distinct refund PayPal has told us
about for the sale (and PayPal's own `total_refunded_amount` when it sends one), so neither a replay
nor a reordering can count a refund twice.

Nothing here trusts the body: a state-changing event reaches `handle` with its resource replaced by
what PayPal's API says (webhooks/paypal_confirm.py), and `confirmed=False` for an event that could not
be checked (no row of ours names it, so no integration's credentials could ask PayPal), which then
changes nothing. Only confirmed refunds count towards a sale's refunded total.

A stored event whose body was never confirmed with PayPal does not make a later delivery with its id a
duplicate (`_unconfirmed`): one `unmatched` (it came before its row), or `ignored` as a type we do not
use — its body may be a forger's under a genuine event's id, and PayPal's own event must still be
applied when it arrives. That delivery is processed afresh and replaces the stored row. An event PayPal
confirmed, applied or found older than the stored state (`ignored`), is never processed again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, false, func, not_, or_, select
from sqlalchemy.dialects.postgresql import insert

from integration_service.db import paypal_rows
from integration_service.db.paypal_rows import ORDERS, PAYMENTS, SUBSCRIPTIONS
from integration_service.db.schema import (
    paypal_payments,
    paypal_subscriptions,
    paypal_webhook_transmissions,
    webhook_events,
)
from integration_service.providers.errors import ProviderResponseError
from integration_service.providers.paypal import money, paypal_time, subscription_row
from integration_service.webhooks import paypal_order_events as order_events
from integration_service.webhooks import store
from integration_service.webhooks.paypal_order_events import ORDER_EVENTS

PROVIDER = "paypal"
SALE_STATES = {
    "PAYMENT.SALE.COMPLETED": "completed",
    "PAYMENT.SALE.DENIED": "denied",
    "PAYMENT.SALE.PENDING": "pending",
}
REFUNDED = "PAYMENT.SALE.REFUNDED"
# The subscription's status is PayPal's (the confirmed resource), whatever the event's name says.
SUBSCRIPTION_EVENTS = frozenset(
    {
        "BILLING.SUBSCRIPTION.CREATED",
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "BILLING.SUBSCRIPTION.UPDATED",
        "BILLING.SUBSCRIPTION.SUSPENDED",
        "BILLING.SUBSCRIPTION.CANCELLED",
        "BILLING.SUBSCRIPTION.EXPIRED",
    }
)
STATE_CHANGING = frozenset({*SALE_STATES, REFUNDED, *SUBSCRIPTION_EVENTS, *ORDER_EVENTS})
TRANSMISSIONS_KEPT = timedelta(days=1)  # far beyond the timestamp tolerance (at most an hour): older ones cannot verify


class EventMalformed(ValueError):
    """A genuinely signed body that is not a PayPal event we can read."""


class TransmissionReplayed(Exception):
    """This PAYPAL-TRANSMISSION-ID was accepted before: its headers cannot carry another body."""


@dataclass(frozen=True)
class Incoming:
    event_id: str
    event_type: str
    resource: dict[str, Any]

    @property
    def changes_state(self) -> bool:
        return self.event_type in STATE_CHANGING


def read(event: Any) -> Incoming:
    """The parts of a PayPal event we rely on; EventMalformed when it lacks them."""
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        raise EventMalformed("the event has no id")
    event_type, resource = event.get("event_type"), event.get("resource")
    if not isinstance(event_type, str) or not isinstance(resource, dict):
        raise EventMalformed("the event has no event_type or resource")
    key = "sale_id" if event_type == REFUNDED else "id"
    if not isinstance(resource.get(key), str) or not resource[key]:
        raise EventMalformed(f"the {event_type} resource has no {key}")
    return Incoming(event["id"][:200], event_type[:200], resource)


def transmission_used(connection: Connection, transmission_id: str) -> bool:
    found = connection.execute(
        select(paypal_webhook_transmissions.c.transmission_id).where(
            paypal_webhook_transmissions.c.transmission_id == transmission_id
        )
    ).first()
    return found is not None


def _unconfirmed() -> ColumnElement[bool]:
    """A stored event whose body PayPal never confirmed: a later delivery with its id replaces it."""
    outcome, event_type = webhook_events.c.outcome, webhook_events.c.event_type
    return or_(outcome == "unmatched", and_(outcome == "ignored", event_type.not_in(STATE_CHANGING)))


def handled_before(connection: Connection, event_id: str) -> bool:
    """Whether the event was stored and dealt with as PayPal confirmed it (a redelivery changes nothing)."""
    found = connection.execute(
        select(webhook_events.c.id).where(
            webhook_events.c.provider == PROVIDER,
            webhook_events.c.event_id == event_id,
            not_(_unconfirmed()),
        )
    ).first()
    return found is not None


def claim_transmission(connection: Connection, transmission_id: str, event_id: str) -> None:
    """Record the transmission in the caller's transaction; TransmissionReplayed if it was used before.

    In the same transaction as the event's effects: a delivery that fails (and rolls back) leaves its
    transmission unused, so nothing PayPal retries is ever refused as a replay.
    """
    claimed = connection.execute(
        insert(paypal_webhook_transmissions)
        .values(transmission_id=transmission_id, event_id=event_id)
        .on_conflict_do_nothing(index_elements=["transmission_id"])
        .returning(paypal_webhook_transmissions.c.transmission_id)
    ).first()
    if claimed is None:
        raise TransmissionReplayed(f"PAYPAL-TRANSMISSION-ID {transmission_id[:80]} was already used")
    connection.execute(
        paypal_webhook_transmissions.delete().where(
            paypal_webhook_transmissions.c.received_at < func.now() - TRANSMISSIONS_KEPT
        )
    )


def _payment_keys(sale_id: object, payment_id: object) -> ColumnElement[bool]:
    keys = [paypal_payments.c.sale_id == str(sale_id)] if sale_id else []
    if payment_id:
        keys.append(paypal_payments.c.paypal_payment_id == str(payment_id))
    return or_(*keys) if keys else false()


def _rows_about(incoming: Incoming) -> tuple[paypal_rows.Lifecycle, ColumnElement[bool]]:
    resource = incoming.resource
    if incoming.event_type in SUBSCRIPTION_EVENTS:
        return SUBSCRIPTIONS, paypal_subscriptions.c.paypal_subscription_id == str(resource["id"])
    if incoming.event_type in ORDER_EVENTS:
        return ORDERS, order_events.rows_about(incoming.event_type, resource)
    sale_id = resource["sale_id"] if incoming.event_type == REFUNDED else resource["id"]
    return PAYMENTS, _payment_keys(sale_id, resource.get("parent_payment"))


def owners(connection: Connection, incoming: Incoming) -> list[RowMapping]:
    """(integration_id, user_id) of every integration with a row the event is about, oldest first."""
    if not incoming.changes_state:
        return []
    lifecycle, where = _rows_about(incoming)
    table = lifecycle.table
    statement = select(table.c.integration_id, table.c.user_id).where(where).distinct().order_by(table.c.integration_id)
    return list(connection.execute(statement).mappings())


@dataclass(frozen=True)
class Handled:
    duplicate: bool
    outcome: str | None = None


@dataclass(frozen=True)
class _Applied:
    outcome: str
    detail: str | None
    matched: list[RowMapping]  # rows the event is about
    changed: list[Any]  # integration ids whose rows it changed


def handle(connection: Connection, event: Any, started: float, confirmed: bool = False) -> Handled:
    """Store the event and apply it, unless it was applied before; the caller owns the transaction.

    `confirmed`: the event's resource is PayPal's own answer, not the body's claim. An unconfirmed
    state-changing event is stored as unmatched and changes nothing.
    """
    incoming = read(event)
    try:
        occurred_at = paypal_time(event.get("create_time"))
    except ProviderResponseError as exc:
        raise EventMalformed(exc.message) from None
    row_id = store.receive(
        connection, PROVIDER, incoming.event_id, incoming.event_type, event, occurred_at, replaceable=_unconfirmed()
    )
    if row_id is None:
        return Handled(duplicate=True)
    try:
        applied = _apply(connection, incoming, confirmed)
    except (ProviderResponseError, KeyError, TypeError) as exc:
        raise EventMalformed(f"the {incoming.event_type} resource could not be read ({type(exc).__name__})") from None
    _settle(connection, row_id, applied, round((time.monotonic() - started) * 1000))
    return Handled(duplicate=False, outcome=applied.outcome)


def _apply(connection: Connection, incoming: Incoming, confirmed: bool) -> _Applied:
    event_type, resource = incoming.event_type, incoming.resource
    if not incoming.changes_state:
        return _Applied("ignored", f"{event_type} events are not used", [], [])
    if not confirmed:
        return _Applied("unmatched", "no row of ours named it when it arrived, so PayPal was not asked", [], [])
    if event_type in SALE_STATES:
        return _sale(connection, resource, SALE_STATES[event_type])
    if event_type == REFUNDED:
        return _refund(connection, resource)
    if event_type in ORDER_EVENTS:
        return _result(*order_events.apply(connection, event_type, resource))
    return _subscription(connection, resource)


def _payment_rows(connection: Connection, sale_id: object, payment_id: object) -> list[RowMapping]:
    return list(paypal_rows.lock(connection, PAYMENTS, _payment_keys(sale_id, payment_id)))


def _sale(connection: Connection, sale: dict[str, Any], default_state: str) -> _Applied:
    rows = _payment_rows(connection, sale["id"], sale.get("parent_payment"))
    moment = paypal_time(sale.get("update_time") or sale.get("create_time"))
    state = sale.get("state") if sale.get("state") in PAYMENTS.ranks else default_state
    amount = sale.get("amount") or {}
    new = {
        "sale_id": str(sale["id"]),
        "state": state,
        "state_at": moment,
        "amount": money(amount.get("total")),
        "currency": amount.get("currency"),
        "provider_updated_at": moment,
    }
    return _result(rows, paypal_rows.merge(connection, PAYMENTS, rows, new))


def refunded_total(connection: Connection, sale_id: str, refund: Mapping[str, Any]) -> Decimal:
    """Every distinct confirmed refund of the sale (this one included), summed.

    Unmatched events were never confirmed with PayPal (their body is only a claim): they do not count.
    """
    resources = connection.execute(
        select(webhook_events.c.payload["resource"]).where(
            webhook_events.c.provider == PROVIDER,
            webhook_events.c.event_type == REFUNDED,
            webhook_events.c.outcome != "unmatched",
            webhook_events.c.payload["resource"]["sale_id"].astext == sale_id,
        )
    ).scalars()
    by_refund = {str(item["id"]): money((item.get("amount") or {}).get("total")) or Decimal(0) for item in resources}
    by_refund[str(refund["id"])] = money((refund.get("amount") or {}).get("total")) or Decimal(0)
    total = sum(by_refund.values(), Decimal(0))
    reported = money((refund.get("total_refunded_amount") or {}).get("value"))
    return max(total, reported or Decimal(0))


def _refund(connection: Connection, refund: dict[str, Any]) -> _Applied:
    sale_id = str(refund["sale_id"])
    rows = _payment_rows(connection, sale_id, refund.get("parent_payment"))
    total = refunded_total(connection, sale_id, refund)
    moment = paypal_time(refund.get("update_time") or refund.get("create_time"))
    changed = []
    for row in rows:
        whole = row["amount"] is not None and total >= row["amount"]
        new = {
            "sale_id": sale_id,
            "refunded_amount": total,
            "state": "refunded" if whole else "partially_refunded",
            "state_at": moment,
            "provider_updated_at": moment,
        }
        changed += paypal_rows.merge(connection, PAYMENTS, [row], new)
    return _result(rows, changed)


def _subscription(connection: Connection, resource: dict[str, Any]) -> _Applied:
    new = subscription_row(resource)
    rows = list(
        paypal_rows.lock(
            connection, SUBSCRIPTIONS, paypal_subscriptions.c.paypal_subscription_id == str(resource["id"])
        )
    )
    return _result(rows, paypal_rows.merge(connection, SUBSCRIPTIONS, rows, new))


def _result(rows: list[RowMapping], changed: list[Any]) -> _Applied:
    if not rows:
        return _Applied("unmatched", "no payment, order or subscription with this PayPal id is stored", [], [])
    if not changed:
        return _Applied("ignored", "the stored state is already as new or newer", rows, [])
    return _Applied("applied", None, rows, changed)


def _settle(connection: Connection, row_id: int, applied: _Applied, duration_ms: int) -> None:
    owners = {row["integration_id"]: row["user_id"] for row in applied.matched}

    def integration(integration_id: Any) -> dict[str, Any]:
        return {"id": integration_id, "user_id": owners[integration_id], "integration_type": "PAYPAL"}

    if applied.outcome != "applied":
        first = next(iter(owners), None)
        store.settle(connection, row_id, applied.outcome, duration_ms, applied.detail)
        if first is not None:  # attributed, but no sync-log row: nothing was changed
            connection.execute(
                webhook_events.update().where(webhook_events.c.id == row_id).values(integration_id=first)
            )
        return
    # One `webhook` sync-log row per integration changed; the event row ends attributed to the first.
    for integration_id in reversed(list(dict.fromkeys(applied.changed))):
        store.settle(connection, row_id, "applied", duration_ms, None, integration(integration_id))
