"""Stripe actions and payment history over real HTTP: service → sandbox (driven by the official SDK)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stripe

from tests.fixtures.service import ApiUser
from tests.integration_service.stripe_helpers import (
    SQL,
    customer_and_price,
    merchant,
    stripe_integration,
)

__all__ = ["merchant"]  # a fixture, used by name

pytestmark = pytest.mark.db


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


def payment_row(sql: SQL, charge_id: str) -> tuple[object, ...]:
    row = sql.execute(
        "SELECT status, amount, amount_refunded, refunded FROM stripe_payments WHERE stripe_charge_id = %s",
        [charge_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_payment_intent_is_created_confirmed_and_recorded(
    user: ApiUser, merchant: stripe.StripeClient, sql: SQL
) -> None:
    integration = stripe_integration(user)
    response = user.client.post(
        "/api/integrations/stripe/payment-intents",
        json={"integrationId": integration, "amount": 2599, "currency": "usd", "paymentMethod": "pm_card_visa"},
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["status"] == "succeeded"
    charge_id = result["payment"]["stripeChargeId"]
    at_stripe = merchant.v1.payment_intents.retrieve(result["paymentIntentId"])
    assert at_stripe.status == "succeeded"
    assert at_stripe.latest_charge == charge_id
    assert payment_row(sql, charge_id) == ("succeeded", 2599, 0, False)


def test_a_declined_card_is_402_and_the_failed_charge_is_recorded(user: ApiUser, sql: SQL) -> None:
    integration = stripe_integration(user)
    response = user.client.post(
        "/api/integrations/stripe/payment-intents",
        json={
            "integrationId": integration,
            "amount": 500,
            "currency": "usd",
            "paymentMethod": "pm_card_chargeDeclined",
        },
    )
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "payment_declined"
    failed = sql.execute(
        "SELECT count(*) FROM stripe_payments WHERE integration_id = %s AND status = 'failed'", [integration]
    ).fetchone()
    assert failed == (1,)


def test_the_idempotency_key_makes_a_retry_charge_once(user: ApiUser, sql: SQL) -> None:
    integration = stripe_integration(user)
    body = {"integrationId": integration, "amount": 700, "currency": "eur", "paymentMethod": "pm_card_visa"}
    headers = {"Idempotency-Key": "order-4711"}
    first = user.client.post("/api/integrations/stripe/payment-intents", json=body, headers=headers)
    again = user.client.post("/api/integrations/stripe/payment-intents", json=body, headers=headers)
    assert first.json()["paymentIntentId"] == again.json()["paymentIntentId"]
    count = sql.execute("SELECT count(*) FROM stripe_payments WHERE integration_id = %s", [integration]).fetchone()
    assert count == (1,)


def test_an_idempotency_key_reused_with_other_parameters_is_a_conflict(user: ApiUser) -> None:
    """Found by the fuzz gate (issue 18): Stripe refuses the reuse, which was answered as invalid input (422)."""
    integration = stripe_integration(user)
    headers = {"Idempotency-Key": f"order-{integration}"}
    body = {"integrationId": integration, "amount": 700, "currency": "eur"}
    first = user.client.post("/api/integrations/stripe/payment-intents", json=body, headers=headers)
    assert first.status_code == 201, first.text
    other = user.client.post("/api/integrations/stripe/payment-intents", json={**body, "amount": 800}, headers=headers)
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_subscriptions_are_created_and_cancelled(user: ApiUser, merchant: stripe.StripeClient, sql: SQL) -> None:
    integration = stripe_integration(user)
    customer, price = customer_and_price(merchant)
    created = user.client.post(
        "/api/integrations/stripe/subscriptions",
        json={"integrationId": integration, "customer": customer, "price": price},
    )
    assert created.status_code == 201, created.text
    subscription = created.json()["subscription"]
    assert (subscription["status"], subscription["priceId"]) == ("active", price)

    cancelled = user.client.delete(
        f"/api/integrations/stripe/subscriptions/{subscription['stripeSubscriptionId']}",
        params={"integrationId": integration},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert merchant.v1.subscriptions.retrieve(subscription["stripeSubscriptionId"]).status == "canceled"
    row = sql.execute(
        "SELECT status, canceled_at IS NOT NULL FROM stripe_subscriptions WHERE stripe_subscription_id = %s",
        [subscription["stripeSubscriptionId"]],
    ).fetchone()
    assert row == ("canceled", True)


def test_refunds_partial_then_full(user: ApiUser, sql: SQL) -> None:
    integration = stripe_integration(user)
    paid = user.client.post(
        "/api/integrations/stripe/payment-intents",
        json={"integrationId": integration, "amount": 1000, "currency": "usd", "paymentMethod": "pm_card_visa"},
    ).json()
    charge_id = paid["payment"]["stripeChargeId"]
    partial = user.client.post(
        "/api/integrations/stripe/refunds", json={"integrationId": integration, "charge": charge_id, "amount": 300}
    )
    assert partial.status_code == 201, partial.text
    assert payment_row(sql, charge_id) == ("succeeded", 1000, 300, False)
    full = user.client.post(
        "/api/integrations/stripe/refunds",
        json={"integrationId": integration, "paymentIntent": paid["paymentIntentId"]},
    )
    assert full.status_code == 201, full.text
    assert payment_row(sql, charge_id) == ("succeeded", 1000, 1000, True)
    too_much = user.client.post(
        "/api/integrations/stripe/refunds", json={"integrationId": integration, "charge": charge_id, "amount": 1}
    )
    assert too_much.status_code == 422
    assert payment_row(sql, charge_id)[2] == 1000


@pytest.mark.e2e  # volume: 1,200 charges listed at the sandbox and synced twice
def test_payment_history_pages_through_every_charge_once(
    user: ApiUser, merchant: stripe.StripeClient, sql: SQL
) -> None:
    integration = stripe_integration(user)
    charges_at_stripe = sum(1 for _ in merchant.v1.charges.list(params={"limit": 100}).auto_paging_iter())
    assert charges_at_stripe >= 1000
    for full in (False, True):
        response = user.client.post(
            "/api/integrations/sync", json={"integrationId": integration, "dataType": "payments", "fullResync": full}
        )
        assert response.status_code == 200, response.text
    stored = sql.execute(
        "SELECT count(*), count(DISTINCT stripe_charge_id) FROM stripe_payments WHERE integration_id = %s",
        [integration],
    ).fetchone()
    assert stored is not None
    assert stored[0] == stored[1] >= charges_at_stripe
    listed = user.client.get("/api/integrations/stripe/payments", params={"integrationId": integration}).json()
    assert listed["total"] == stored[0]


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "currency": "usd"},
        {"amount": 100, "currency": "US DOLLARS"},
        {"amount": 100, "currency": "usd", "paymentMethod": "pm card; drop"},
        {"amount": -5, "currency": "usd"},
    ],
)
def test_invalid_payment_intents_are_422(user: ApiUser, body: dict[str, object]) -> None:
    integration = stripe_integration(user)
    response = user.client.post("/api/integrations/stripe/payment-intents", json={"integrationId": integration, **body})
    assert response.status_code == 422


def test_another_users_stripe_integration_is_not_found(make_user: Callable[[], ApiUser]) -> None:
    owner, stranger = make_user(), make_user()
    integration = stripe_integration(owner)
    response = stranger.client.post(
        "/api/integrations/stripe/payment-intents",
        json={"integrationId": integration, "amount": 100, "currency": "usd", "paymentMethod": "pm_card_visa"},
    )
    assert response.status_code == 404


def test_a_wrong_api_key_is_a_clear_error_without_the_key(user: ApiUser) -> None:
    integration = stripe_integration(user, key="sk_test_wrong_but_secret_0123456789")
    response = user.client.post(
        "/api/integrations/stripe/payment-intents",
        json={"integrationId": integration, "amount": 100, "currency": "usd"},
    )
    assert response.status_code == 502
    assert "API key" in response.json()["error"]["message"]
    assert "wrong_but_secret" not in response.text


def test_a_non_stripe_integration_is_not_found(user: ApiUser) -> None:
    # As on every route for one provider (api/owned.py): the caller has no STRIPE integration of that id.
    other = user.client.post("/api/integrations", json={"integrationType": "XERO", "integrationName": "books"})
    response = user.client.post(
        "/api/integrations/stripe/payment-intents",
        json={"integrationId": other.json()["integration"]["id"], "amount": 100, "currency": "usd"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
