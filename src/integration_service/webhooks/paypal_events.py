"""Applying a verified PayPal event: stored once by its id, applied in the same transaction.

Sale events change the payment rows with that sale id (or, before we know the sale, its parent
payment); subscription events change the rows with that subscription id, in every integration that
has one. The merge rules in db/paypal_rows.py make the final state independent of delivery order.
Refunded amounts are recomputed as an absolute total from every distinct refund PayPal has told us
about for the sale (and PayPal's own `total_refunded_amount` when it sends one), so neither a replay
nor a reordering can count a refund twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, or_, select

from integration_service.db import paypal_rows
from integration_service.db.paypal_rows import PAYMENTS, SUBSCRIPTIONS
from integration_service.db.schema import paypal_payments, paypal_subscriptions, webhook_events
from integration_service.providers.errors import ProviderResponseError
from integration_service.providers.paypal import money, paypal_time, subscription_row
from integration_service.webhooks import store

PROVIDER = "paypal"
SALE_STATES = {
    "PAYMENT.SALE.COMPLETED": "completed",
    "PAYMENT.SALE.DENIED": "denied",
    "PAYMENT.SALE.PENDING": "pending",
}
REFUNDED = "PAYMENT.SALE.REFUNDED"
SUBSCRIPTION_STATUSES = {
    "BILLING.SUBSCRIPTION.CREATED": None,  # the resource's own status (APPROVAL_PENDING)
    "BILLING.SUBSCRIPTION.ACTIVATED": "ACTIVE",
    "BILLING.SUBSCRIPTION.UPDATED": None,
    "BILLING.SUBSCRIPTION.SUSPENDED": "SUSPENDED",
    "BILLING.SUBSCRIPTION.CANCELLED": "CANCELLED",
    "BILLING.SUBSCRIPTION.EXPIRED": "EXPIRED",
}


class EventMalformed(ValueError):
    """A genuinely signed body that is not a PayPal event we can read."""


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


def handle(connection: Connection, event: Any, started: float) -> Handled:
    """Store the event once and apply it; the caller owns the transaction."""
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        raise EventMalformed("the event has no id")
    event_type = event.get("event_type")
    resource = event.get("resource")
    if not isinstance(event_type, str) or not isinstance(resource, dict):
        raise EventMalformed("the event has no event_type or resource")
    try:
        occurred_at = paypal_time(event.get("create_time"))
    except ProviderResponseError as exc:
        raise EventMalformed(exc.message) from None
    row_id = store.receive(connection, PROVIDER, event["id"][:200], event_type[:200], event, occurred_at)
    if row_id is None:
        return Handled(duplicate=True)
    try:
        applied = _apply(connection, event_type, resource)
    except (ProviderResponseError, KeyError, TypeError) as exc:
        raise EventMalformed(f"the {event_type} resource could not be read ({type(exc).__name__})") from None
    _settle(connection, row_id, applied, round((time.monotonic() - started) * 1000))
    return Handled(duplicate=False, outcome=applied.outcome)


def _apply(connection: Connection, event_type: str, resource: dict[str, Any]) -> _Applied:
    if event_type in SALE_STATES:
        return _sale(connection, resource, SALE_STATES[event_type])
    if event_type == REFUNDED:
        return _refund(connection, resource)
    if event_type in SUBSCRIPTION_STATUSES:
        return _subscription(connection, resource, SUBSCRIPTION_STATUSES[event_type])
    return _Applied("ignored", f"{event_type} events are not used", [], [])


def _payment_rows(connection: Connection, sale_id: object, payment_id: object) -> list[RowMapping]:
    keys = [paypal_payments.c.sale_id == str(sale_id)] if sale_id else []
    if payment_id:
        keys.append(paypal_payments.c.paypal_payment_id == str(payment_id))
    return list(paypal_rows.lock(connection, PAYMENTS, or_(*keys))) if keys else []


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
    """Every distinct refund of the sale we have received (this one included), summed."""
    resources = connection.execute(
        select(webhook_events.c.payload["resource"]).where(
            webhook_events.c.provider == PROVIDER,
            webhook_events.c.event_type == REFUNDED,
            webhook_events.c.payload["resource"]["sale_id"].astext == sale_id,
        )
    ).scalars()
    by_refund = {str(item["id"]): money((item.get("amount") or {}).get("total")) or Decimal(0) for item in resources}
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


def _subscription(connection: Connection, resource: dict[str, Any], status: str | None) -> _Applied:
    new = subscription_row(resource)
    if status is not None:
        new["status"] = status
    rows = list(
        paypal_rows.lock(
            connection, SUBSCRIPTIONS, paypal_subscriptions.c.paypal_subscription_id == str(resource["id"])
        )
    )
    return _result(rows, paypal_rows.merge(connection, SUBSCRIPTIONS, rows, new))


def _result(rows: list[RowMapping], changed: list[Any]) -> _Applied:
    if not rows:
        return _Applied("unmatched", "no payment or subscription with this PayPal id is stored", [], [])
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
