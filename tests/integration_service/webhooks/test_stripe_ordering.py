"""Every field Stripe's ordering rule protects, with the older event applied after the newer one.

`webhooks/stripe.py` applies a verified event to the rows of its object: an event older than the row's
state (`state_at`) changes none of the state it carries, a refunded amount only grows, `refunded` is
never undone, the first known `canceled_at` stays, and nothing brings a cancelled subscription back.
Events are built here (verification is tested in test_stripe.py) and applied to real rows in PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, select

from integration_service.db.schema import integrations_credentials, stripe_payments, stripe_subscriptions, users
from integration_service.webhooks import stripe

pytestmark = pytest.mark.db
T1, T2, T3 = 1_767_000_000, 1_767_000_060, 1_767_000_120  # Stripe's `created`: whole seconds


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


def _integration(connection: Connection) -> Any:
    user_id = connection.execute(
        users.insert().values(name=f"ordering-{uuid.uuid4().hex[:10]}").returning(users.c.id)
    ).scalar_one()
    return connection.execute(
        integrations_credentials.insert()
        .values(user_id=user_id, integration_type="STRIPE", integration_name="ordering")
        .returning(integrations_credentials.c.id, integrations_credentials.c.user_id)
    ).one()


def _charge_event(charge_id: str, created: int, **charge: Any) -> dict[str, Any]:
    obj = {"id": charge_id, "object": "charge", "amount": 5000, "currency": "usd", "amount_refunded": 0}
    return {"id": f"evt_{uuid.uuid4().hex[:12]}", "type": "charge.succeeded", "created": created,
            "data": {"object": {**obj, **charge}}}  # fmt: skip


def _subscription_event(subscription_id: str, created: int, **subscription: Any) -> dict[str, Any]:
    obj = {"id": subscription_id, "object": "subscription", "status": "active", "cancel_at_period_end": False,
           "current_period_end": T1 + 30 * 86400, "canceled_at": None, "created": T1}  # fmt: skip
    return {"id": f"evt_{uuid.uuid4().hex[:12]}", "type": "customer.subscription.updated", "created": created,
            "data": {"object": {**obj, **subscription}}}  # fmt: skip


def _newer_then_older(engine: Engine, table: Any, key: str, newer: dict[str, Any], older: dict[str, Any]) -> Any:
    """A stored row (state from before both events), the newer event applied, then the older one: the row."""
    object_id = newer["data"]["object"]["id"]
    with engine.begin() as connection:
        owner = _integration(connection)
        connection.execute(table.insert().values(integration_id=owner.id, user_id=owner.user_id, **{key: object_id}))
    for event in (newer, older):
        with engine.begin() as connection:
            assert stripe.apply(connection, event)[0] == "applied"
    with engine.connect() as connection:
        return connection.execute(select(table).where(table.c[key] == object_id)).mappings().one()


def test_an_older_charge_event_changes_none_of_the_newer_state(engine: Engine) -> None:
    charge_id = f"ch_{uuid.uuid4().hex[:12]}"
    newer = _charge_event(
        charge_id, T2, status="failed", failure_code="card_declined", failure_message="Your card was declined."
    )
    older = _charge_event(charge_id, T1, status="pending", failure_code=None, failure_message=None)
    row = _newer_then_older(engine, stripe_payments, "stripe_charge_id", newer, older)
    assert (row["status"], row["failure_code"], row["failure_message"]) == (
        "failed",
        "card_declined",
        "Your card was declined.",
    )
    assert row["state_at"].timestamp() == T2


def test_an_older_refund_event_neither_lowers_the_refunded_amount_nor_undoes_a_full_refund(engine: Engine) -> None:
    charge_id = f"ch_{uuid.uuid4().hex[:12]}"
    newer = _charge_event(charge_id, T2, status="succeeded", amount_refunded=5000, refunded=True)
    older = _charge_event(charge_id, T1, status="succeeded", amount_refunded=1200, refunded=False)
    row = _newer_then_older(engine, stripe_payments, "stripe_charge_id", newer, older)
    assert (row["amount_refunded"], row["refunded"]) == (5000, True)


def test_an_older_subscription_event_changes_none_of_the_newer_state(engine: Engine) -> None:
    subscription_id = f"sub_{uuid.uuid4().hex[:12]}"
    renewed = T1 + 60 * 86400
    newer = _subscription_event(
        subscription_id, T2, status="past_due", cancel_at_period_end=True, current_period_end=renewed
    )
    older = _subscription_event(subscription_id, T1)
    row = _newer_then_older(engine, stripe_subscriptions, "stripe_subscription_id", newer, older)
    seen = (row["status"], row["cancel_at_period_end"], row["current_period_end"].timestamp())
    assert seen == ("past_due", True, renewed)
    assert row["state_at"].timestamp() == T2


def test_a_cancelled_subscription_keeps_its_cancellation_whatever_comes_after(engine: Engine) -> None:
    subscription_id = f"sub_{uuid.uuid4().hex[:12]}"
    cancelled = _subscription_event(subscription_id, T2, status="canceled", canceled_at=T2)
    # Even dated later (a clock skew, a replayed "active" snapshot), nothing revives it or forgets when it ended.
    revived = _subscription_event(subscription_id, T3, status="active", canceled_at=None)
    row = _newer_then_older(engine, stripe_subscriptions, "stripe_subscription_id", cancelled, revived)
    assert (row["status"], row["canceled_at"].timestamp()) == ("canceled", T2)


def test_an_event_newer_than_the_row_does_change_it(engine: Engine) -> None:
    """The other side of the rule: the tests above would pass on a webhook that changed nothing."""
    subscription_id = f"sub_{uuid.uuid4().hex[:12]}"
    older = _subscription_event(subscription_id, T1)
    newer = _subscription_event(subscription_id, T2, status="past_due", cancel_at_period_end=True)
    row = _newer_then_older(engine, stripe_subscriptions, "stripe_subscription_id", older, newer)
    assert (row["status"], row["cancel_at_period_end"]) == ("past_due", True)
