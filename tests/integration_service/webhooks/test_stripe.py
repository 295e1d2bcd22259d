"""Stripe webhooks over real HTTP: genuine signatures from the sandbox (Stripe's own scheme), each
event applied to the right row, once, in any order; forgeries rejected with nothing changed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from harness.core.processes import ServerProcess
from tests.fixtures.service import ApiUser, RunningService
from tests.integration_service.stripe_helpers import (
    SQL,
    customer_and_price,
    deliver,
    drain,
    endpoint_id,
    event_ids,
    fresh_event,
    merchant,
    outcomes,
    stripe_integration,
)

pytestmark = pytest.mark.db
__all__ = ["merchant"]  # a fixture, used by name


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


@pytest.fixture
def endpoint(sandbox_control: httpx.Client, service: RunningService) -> str:
    return endpoint_id(sandbox_control, service)


def pay(user: ApiUser, integration: str, method: str = "pm_card_visa", amount: int = 1000) -> httpx.Response:
    return user.client.post(
        "/api/integrations/stripe/payment-intents",
        json={"integrationId": integration, "amount": amount, "currency": "usd", "paymentMethod": method},
    )


def charge_state(sql: SQL, charge_id: str) -> tuple[Any, ...]:
    row = sql.execute(
        "SELECT status, amount_refunded, refunded, failure_code FROM stripe_payments WHERE stripe_charge_id = %s",
        [charge_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def subscription_state(sql: SQL, subscription_id: str) -> tuple[Any, ...]:
    row = sql.execute(
        "SELECT status, cancel_at_period_end FROM stripe_subscriptions WHERE stripe_subscription_id = %s",
        [subscription_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def scramble(sql: SQL, table: str, key: str, object_id: str) -> None:
    """Put a wrong state in our row, as if we had missed every update: only the webhook can fix it."""
    if table == "stripe_payments":
        sql.execute(
            "UPDATE stripe_payments SET status = 'pending', amount_refunded = 0, refunded = false, failure_code = NULL,"
            " state_at = NULL WHERE stripe_charge_id = %s",
            [object_id],
        )
    else:
        sql.execute(
            "UPDATE stripe_subscriptions SET status = 'incomplete', cancel_at_period_end = NULL, state_at = NULL"
            " WHERE stripe_subscription_id = %s",
            [object_id],
        )


def webhook_log_count(sql: SQL, integration: str) -> int:
    row = sql.execute(
        "SELECT count(*) FROM integrations_sync_logs WHERE integration_id = %s AND sync_type = 'webhook'",
        [integration],
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("charge.succeeded", ("succeeded", 0, False, None)),
        ("charge.failed", ("failed", 0, False, "card_declined")),
        ("charge.refunded", ("succeeded", 1000, True, None)),
    ],
)
def test_each_charge_event_sets_the_row_it_is_about(
    user: ApiUser, sandbox_control: httpx.Client, endpoint: str, sql: SQL, event_type: str, expected: tuple[Any, ...]
) -> None:
    integration = stripe_integration(user)
    if event_type == "charge.failed":
        pay(user, integration, "pm_card_chargeDeclined")
        charge_id = sql.execute(
            "SELECT stripe_charge_id FROM stripe_payments WHERE integration_id = %s", [integration]
        ).fetchone()[0]  # type: ignore[index]
    else:
        charge_id = pay(user, integration).json()["payment"]["stripeChargeId"]
    if event_type == "charge.refunded":
        user.client.post("/api/integrations/stripe/refunds", json={"integrationId": integration, "charge": charge_id})
    drain(sandbox_control)
    scramble(sql, "stripe_payments", "stripe_charge_id", charge_id)
    logs_before = webhook_log_count(sql, integration)

    event = fresh_event(sandbox_control, event_type, charge_id)
    [attempt] = deliver(sandbox_control, endpoint, [event])
    assert attempt["status_code"] == 200, attempt
    assert charge_state(sql, charge_id) == expected
    assert outcomes(sql, event) == ["applied"]
    assert webhook_log_count(sql, integration) == logs_before + 1


@pytest.mark.parametrize("event_type", ["created", "updated", "deleted"])
def test_each_subscription_event_sets_the_row_it_is_about(
    user: ApiUser,
    merchant: stripe.StripeClient,
    sandbox_control: httpx.Client,
    endpoint: str,
    sql: SQL,
    event_type: str,
) -> None:
    integration = stripe_integration(user)
    customer, price = customer_and_price(merchant)
    subscription = user.client.post(
        "/api/integrations/stripe/subscriptions",
        json={"integrationId": integration, "customer": customer, "price": price},
    ).json()["subscription"]["stripeSubscriptionId"]
    expected: tuple[Any, ...] = ("active", False)
    if event_type == "updated":  # changed by the merchant at Stripe, not through the service
        merchant.v1.subscriptions.update(subscription, params={"cancel_at_period_end": True})
        expected = ("active", True)
    if event_type == "deleted":
        merchant.v1.subscriptions.cancel(subscription)
        expected = ("canceled", False)
    drain(sandbox_control)
    scramble(sql, "stripe_subscriptions", "stripe_subscription_id", subscription)

    event = fresh_event(sandbox_control, f"customer.subscription.{event_type}", subscription)
    [attempt] = deliver(sandbox_control, endpoint, [event])
    assert attempt["status_code"] == 200, attempt
    assert subscription_state(sql, subscription) == expected
    assert outcomes(sql, event) == ["applied"]


def test_the_same_refund_event_three_times_counts_once(
    user: ApiUser, sandbox_control: httpx.Client, endpoint: str, sql: SQL
) -> None:
    integration = stripe_integration(user)
    charge_id = pay(user, integration).json()["payment"]["stripeChargeId"]
    user.client.post(
        "/api/integrations/stripe/refunds", json={"integrationId": integration, "charge": charge_id, "amount": 300}
    )
    drain(sandbox_control)
    scramble(sql, "stripe_payments", "stripe_charge_id", charge_id)
    event = fresh_event(sandbox_control, "charge.refunded", charge_id)

    attempts = deliver(sandbox_control, endpoint, [event], times=3)
    assert [a["status_code"] for a in attempts] == [200, 200, 200]
    assert [json.loads(a["response_body"])["duplicate"] for a in attempts] == [False, True, True]
    assert charge_state(sql, charge_id)[:3] == ("succeeded", 300, False)
    assert outcomes(sql, event) == ["applied"]


def test_events_in_reverse_order_leave_the_latest_state(
    user: ApiUser, merchant: stripe.StripeClient, sandbox_control: httpx.Client, endpoint: str, sql: SQL
) -> None:
    integration = stripe_integration(user)
    customer, price = customer_and_price(merchant)
    subscription = user.client.post(
        "/api/integrations/stripe/subscriptions",
        json={"integrationId": integration, "customer": customer, "price": price},
    ).json()["subscription"]["stripeSubscriptionId"]
    merchant.v1.subscriptions.update(subscription, params={"cancel_at_period_end": True})
    time.sleep(1.1)  # Stripe stamps events in whole seconds: make the cancellation observably later
    merchant.v1.subscriptions.cancel(subscription)
    drain(sandbox_control)
    history = [
        *event_ids(sandbox_control, "customer.subscription.created", subscription),
        *event_ids(sandbox_control, "customer.subscription.updated", subscription),
        *event_ids(sandbox_control, "customer.subscription.deleted", subscription),
    ]
    assert len(history) == 3
    # A receiver meeting these events for the first time, newest first.
    sql.execute("DELETE FROM webhook_events WHERE event_id = ANY(%s)", [history])
    scramble(sql, "stripe_subscriptions", "stripe_subscription_id", subscription)

    attempts = deliver(sandbox_control, endpoint, history, order="reversed")
    assert [a["event_id"] for a in attempts] == list(reversed(history))
    assert all(a["status_code"] == 200 for a in attempts)
    assert subscription_state(sql, subscription)[0] == "canceled"


def test_an_earlier_charge_event_arriving_late_does_not_undo_a_refund(
    user: ApiUser, sandbox_control: httpx.Client, endpoint: str, sql: SQL
) -> None:
    integration = stripe_integration(user)
    charge_id = pay(user, integration).json()["payment"]["stripeChargeId"]
    user.client.post("/api/integrations/stripe/refunds", json={"integrationId": integration, "charge": charge_id})
    drain(sandbox_control)
    history = [
        *event_ids(sandbox_control, "charge.succeeded", charge_id),
        *event_ids(sandbox_control, "charge.refunded", charge_id),
    ]
    sql.execute("DELETE FROM webhook_events WHERE event_id = ANY(%s)", [history])
    scramble(sql, "stripe_payments", "stripe_charge_id", charge_id)
    deliver(sandbox_control, endpoint, history, order="reversed")
    assert charge_state(sql, charge_id)[:3] == ("succeeded", 1000, True)


@pytest.mark.parametrize("variant", ["tampered_body", "wrong_secret", "stale_timestamp", "missing_signature"])
def test_forged_events_are_rejected_and_change_nothing(
    user: ApiUser, sandbox_control: httpx.Client, endpoint: str, sql: SQL, variant: str
) -> None:
    integration = stripe_integration(user)
    charge_id = pay(user, integration).json()["payment"]["stripeChargeId"]
    drain(sandbox_control)
    scramble(sql, "stripe_payments", "stripe_charge_id", charge_id)
    event = fresh_event(sandbox_control, "charge.succeeded", charge_id)

    [attempt] = deliver(sandbox_control, endpoint, [event], variant=variant)
    assert attempt["status_code"] == 400, attempt
    assert json.loads(attempt["response_body"])["error"]["code"] == "invalid_signature"
    assert charge_state(sql, charge_id)[0] == "pending"  # still our scrambled state
    assert outcomes(sql, event) == []  # not even recorded


def signed(payload: bytes, secret: str, at: int) -> str:
    """Stripe's documented scheme, computed here without the service's code or the SDK."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def test_an_independently_signed_event_is_accepted_and_a_stale_one_is_not(service: RunningService, sql: SQL) -> None:
    secret = service.env["STRIPE_WEBHOOK_SECRETS"]
    event_id = f"evt_independent_{time.time_ns()}"
    event = {
        "id": event_id,
        "object": "event",
        "type": "invoice.created",
        "created": int(time.time()),
        "data": {"object": {"id": "in_1", "object": "invoice"}},
    }
    payload = json.dumps(event).encode()
    url = f"{service.url}/api/integrations/stripe/webhook"
    accepted = httpx.post(url, content=payload, headers={"Stripe-Signature": signed(payload, secret, int(time.time()))})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"received": True, "duplicate": False, "outcome": "ignored"}  # unknown type: recorded
    assert outcomes(sql, event_id) == ["ignored"]

    stale_id = event_id + "_stale"
    stale = dict(event, id=stale_id)
    payload = json.dumps(stale).encode()
    refused = httpx.post(
        url, content=payload, headers={"Stripe-Signature": signed(payload, secret, int(time.time()) - 301)}
    )
    assert refused.status_code == 400
    assert outcomes(sql, stale_id) == []


def test_during_rotation_both_secrets_are_accepted(service_factory: Callable[..., ServerProcess], sql: SQL) -> None:
    rotating = service_factory(STRIPE_WEBHOOK_SECRETS="whsec_new_one_123456,whsec_old_one_123456")
    for number, secret in enumerate(("whsec_new_one_123456", "whsec_old_one_123456", "whsec_retired_123456")):
        event = {
            "id": f"evt_rotation_{number}_{time.time_ns()}",
            "type": "ping",
            "created": int(time.time()),
            "data": {"object": {}},
        }
        payload = json.dumps(event).encode()
        response = httpx.post(
            f"{rotating.url}/api/integrations/stripe/webhook",
            content=payload,
            headers={"Stripe-Signature": signed(payload, secret, int(time.time()))},
        )
        assert response.status_code == (400 if "retired" in secret else 200), secret
