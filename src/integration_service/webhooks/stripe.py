"""Stripe webhooks: verified with the SDK, applied once, right whatever order they arrive in.

Verification is Stripe's own scheme through `stripe.Webhook.construct_event`: an HMAC-SHA256 of
`"{t}.{raw body}"` under the endpoint secret, compared in constant time, with `t` within the
tolerance. Every configured secret is tried, so a secret can be rotated without losing events.

Ordering: a row remembers when the state it holds was true at Stripe (`state_at`: the event's
`created`, or the moment an API answer was read). An event older than that changes nothing but what
only grows (refunded amounts); a cancelled subscription stays cancelled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from pydantic import SecretStr
from sqlalchemy import Connection, RowMapping, case, func, select

from integration_service.db.newer_state import is_newer_sql, later_sql
from integration_service.db.schema import integrations_credentials as credentials
from integration_service.db.schema import stripe_payments, stripe_subscriptions
from integration_service.providers.stripe import charge_row, subscription_row
from integration_service.webhooks.stripe_events import (
    CHARGE_EVENTS,
    SUBSCRIPTION_EVENTS,
    Charge,
    EventMalformed,
    Subscription,
    read_event,
    read_object,
)


class SignatureRejected(Exception):
    """The request is not a genuine Stripe event for this endpoint; the message says why."""


def verify(payload: bytes, signature: str | None, secrets: list[SecretStr], tolerance_s: int) -> dict[str, Any]:
    """The verified event as a dict; SignatureRejected, or EventMalformed for a body that is no Stripe event."""
    if not signature:
        raise SignatureRejected("the Stripe-Signature header is missing")
    if not secrets:
        raise SignatureRejected("no webhook signing secret is configured (STRIPE_WEBHOOK_SECRETS)")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, signature, secret.get_secret_value(), tolerance_s)
        except stripe.SignatureVerificationError:
            continue
        except ValueError:  # the SDK decodes the body before comparing: not UTF-8
            raise EventMalformed("the body is not UTF-8") from None
        try:
            # The event exactly as Stripe sent it (the SDK's Event would turn *_decimal fields into Decimals).
            parsed = json.loads(payload)
        except ValueError:
            raise EventMalformed("the body is not JSON") from None
        return read_event(parsed)
    raise SignatureRejected("the signature does not match, or its timestamp is outside the tolerance")


Outcome = tuple[str, str | None, RowMapping | None]  # (outcome, detail, integration it touched)


def apply(connection: Connection, event: Mapping[str, Any]) -> Outcome:
    """Apply a verified event (read_event's) to the rows of the object it is about; EventMalformed when that
    object is not one the service can read."""
    kind = str(event.get("type"))
    obj = (event.get("data") or {}).get("object") or {}
    happened = datetime.fromtimestamp(int(event.get("created") or 0), tz=UTC)
    if kind in CHARGE_EVENTS:
        return _apply_charge(connection, read_object(Charge, obj), happened)
    if kind in SUBSCRIPTION_EVENTS:
        return _apply_subscription(connection, read_object(Subscription, obj), happened)
    return "ignored", f"{kind} is not an event this service acts on", None


def _apply_charge(connection: Connection, charge: Mapping[str, Any], happened: datetime) -> Outcome:
    row = charge_row(charge)
    table = stripe_payments
    newer = is_newer_sql(table.c.state_at, happened)
    updated = connection.execute(
        table.update()
        .where(table.c.stripe_charge_id == row["stripe_charge_id"])
        .values(
            status=case((newer, row["status"]), else_=table.c.status),
            failure_code=case((newer, row["failure_code"]), else_=table.c.failure_code),
            failure_message=case((newer, row["failure_message"]), else_=table.c.failure_message),
            # Refunds only grow: the event carries the charge's total refunded so far, so replaying
            # or reordering events can never count a refund twice or undo one.
            amount_refunded=func.greatest(table.c.amount_refunded, row["amount_refunded"]),
            refunded=table.c.refunded | row["refunded"],
            state_at=later_sql(table.c.state_at, happened),
            updated_at=func.now(),
        )
        .returning(table.c.integration_id)
    ).all()
    return _outcome(connection, [r.integration_id for r in updated], f"charge {row['stripe_charge_id']}")


def _apply_subscription(connection: Connection, subscription: Mapping[str, Any], happened: datetime) -> Outcome:
    row = subscription_row(subscription)
    table = stripe_subscriptions
    # Newer state wins, except that nothing brings a cancelled subscription back.
    takes = is_newer_sql(table.c.state_at, happened) & (
        table.c.status.is_distinct_from("canceled") | (row["status"] == "canceled")
    )
    updated = connection.execute(
        table.update()
        .where(table.c.stripe_subscription_id == row["stripe_subscription_id"])
        .values(
            status=case((takes, row["status"]), else_=table.c.status),
            cancel_at_period_end=case((takes, row["cancel_at_period_end"]), else_=table.c.cancel_at_period_end),
            current_period_end=case((takes, row["current_period_end"]), else_=table.c.current_period_end),
            canceled_at=func.coalesce(table.c.canceled_at, row["canceled_at"]),
            state_at=later_sql(table.c.state_at, happened),
            updated_at=func.now(),
        )
        .returning(table.c.integration_id)
    ).all()
    return _outcome(connection, [r.integration_id for r in updated], f"subscription {row['stripe_subscription_id']}")


def _outcome(connection: Connection, integration_ids: list[Any], what: str) -> Outcome:
    if not integration_ids:
        # Not (yet) known here: the next sync, or the action that created it, stores its state.
        return "unmatched", f"{what} is not stored for any integration", None
    integration = (
        connection.execute(
            select(credentials.c.id, credentials.c.user_id, credentials.c.integration_type).where(
                credentials.c.id == integration_ids[0]
            )
        )
        .mappings()
        .one()
    )
    return "applied", f"{what} updated in {len(integration_ids)} integration(s)", integration
