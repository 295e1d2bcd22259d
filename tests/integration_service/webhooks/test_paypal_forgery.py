"""PayPal webhook forgery: what an attacker holding one genuine delivery's headers can and cannot do.

PayPal's signature covers the body only through its CRC32, so a body of the attacker's choosing can be
made to fit a genuine signature (harness/webhook_forgery.py). The service must accept each transmission
once, apply only an event PayPal itself says it sent (its id, type and resource), and apply what PayPal
says about the resource, never what the body says. (test_paypal_event_confirmation.py: forged bodies
under a genuine event's id.)
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration_service.paypal_helpers import (
    SQL,
    Merchant,
    Receiver,
    created_not_executed,
    deliver,
    event_rows,
    events,
    genuine_body,
    intercepted,
    merchant,
    paid_through,
    payment_state,
    paypal_integration,
    post_forged,
    refund,
    sql_r,
    webhook_logs,
)

__all__ = ["merchant", "sql_r"]  # fixtures, used by name (`receiver` is in conftest.py)

pytestmark = pytest.mark.db


def forged_refund(sale_id: str, payment_id: str, total: str) -> dict[str, Any]:
    """A PAYMENT.SALE.REFUNDED for the whole sale, about a refund PayPal never made."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": f"WH-FORGED-{uuid.uuid4().hex[:12].upper()}",
        "event_type": "PAYMENT.SALE.REFUNDED",
        "create_time": now,
        "resource_type": "refund",
        "resource": {
            "id": f"FORGED{uuid.uuid4().hex[:10].upper()}",
            "state": "completed",
            "amount": {"total": total, "currency": "USD"},
            "sale_id": sale_id,
            "parent_payment": payment_id,
            "create_time": now,
            "update_time": now,
        },
    }


def test_a_forged_body_under_a_used_transmission_id_is_refused(
    receiver: Receiver, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment = paid_through(receiver.user, integration, "40.00")
    [completed] = events(sandbox_control, payment["saleId"], "PAYMENT.SALE.COMPLETED")
    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    assert attempt["status_code"] == 200, attempt["response_body"]

    forged = forged_refund(payment["saleId"], payment["paypalPaymentId"], "40.00")
    answer = post_forged(receiver, attempt["headers"], forged, completed)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "replayed_transmission"
    assert payment_state(sql_r, integration, payment["paypalPaymentId"])[:2] == ("completed", 0)
    assert event_rows(sql_r, forged["id"]) == []

    # The same genuine body and headers again: a replay of the transmission, refused the same way.
    again = httpx.post(
        f"{receiver.url}/api/integrations/paypal/webhook",
        content=genuine_body(completed),
        headers={**attempt["headers"], "Content-Type": "application/json"},
        timeout=30,
    )
    assert again.status_code == 409, again.text


def test_an_intercepted_transmission_cannot_carry_a_refund_paypal_never_made(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment_id, sale_id = created_not_executed(receiver.user, integration, merchant, "40.00")
    [completed] = events(sandbox_control, sale_id, "PAYMENT.SALE.COMPLETED")
    headers = intercepted(sandbox_control, receiver, completed)

    forged = forged_refund(sale_id, payment_id, "40.00")
    answer = post_forged(receiver, headers, forged, completed)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "unconfirmed_event"
    assert forged["resource"]["id"] in answer.json()["error"]["message"]
    assert payment_state(sql_r, integration, payment_id) == ("created", 0, None)
    assert event_rows(sql_r, forged["id"]) == []
    assert webhook_logs(sql_r, integration) == 0

    # PayPal's own delivery of the genuine event is then applied as usual.
    [genuine] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    assert json.loads(genuine["response_body"])["outcome"] == "applied"
    assert payment_state(sql_r, integration, payment_id) == ("completed", 0, sale_id)


def test_a_forged_state_for_a_real_sale_is_applied_as_paypal_shows_the_sale(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment_id, sale_id = created_not_executed(receiver.user, integration, merchant, "25.00")
    [completed] = events(sandbox_control, sale_id, "PAYMENT.SALE.COMPLETED")
    headers = intercepted(sandbox_control, receiver, completed)

    # Under an event id PayPal never sent, or the genuine id with another type: PayPal does not confirm it.
    for wrong in ({"id": f"WH-FORGED-{uuid.uuid4().hex[:10]}"}, {"event_type": "PAYMENT.SALE.DENIED"}):
        answer = post_forged(receiver, headers, {**completed, **wrong}, completed)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "unconfirmed_event"
    assert payment_state(sql_r, integration, payment_id) == ("created", 0, None)

    # The genuine event (id and type), its resource lying: applied, but as PayPal shows the sale.
    lie = {**completed, "resource": {**completed["resource"], "state": "denied"}}
    lie["resource"]["amount"] = {"total": "1.00", "currency": "USD"}
    answer = post_forged(receiver, headers, lie, completed)
    assert answer.status_code == 200, answer.text
    # PayPal says the sale completed for 25.00: that is what the row shows, not the body's denial.
    assert payment_state(sql_r, integration, payment_id) == ("completed", 0, sale_id)
    amount = sql_r.execute("SELECT amount FROM paypal_payments WHERE paypal_payment_id = %s", [payment_id]).fetchone()
    assert amount is not None
    assert float(amount[0]) == 25.0


def test_a_forged_refund_amount_is_counted_as_paypal_refunded_it(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment = paid_through(receiver.user, integration, "30.00")
    refund(merchant, payment["saleId"], "5.00")
    [refunded] = events(sandbox_control, payment["saleId"], "PAYMENT.SALE.REFUNDED")
    headers = intercepted(sandbox_control, receiver, refunded)

    inflated = {**refunded, "resource": {**refunded["resource"], "amount": {"total": "30.00", "currency": "USD"}}}
    answer = post_forged(receiver, headers, inflated, refunded)
    assert answer.status_code == 200, answer.text
    assert payment_state(sql_r, integration, payment["paypalPaymentId"])[:2] == ("partially_refunded", 5)


def test_a_forged_cancellation_of_a_subscription_is_applied_as_paypal_shows_it(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    user, integration = receiver.user, paypal_integration(receiver.user)
    plan = user.client.post(
        "/api/integrations/paypal/plans",
        json={"integrationId": integration, "productId": "PROD-F", "name": "F", "amount": "5.00", "currency": "USD"},
    )
    assert plan.status_code == 201, plan.text
    subscribed = user.client.post(
        "/api/integrations/paypal/subscriptions",
        json={
            "integrationId": integration,
            "planId": plan.json()["plan"]["id"],
            "returnUrl": "https://crm.example/r",
            "cancelUrl": "https://crm.example/c",
        },
    )
    assert subscribed.status_code == 201, subscribed.text
    subscription_id = subscribed.json()["subscription"]["paypalSubscriptionId"]
    [created] = events(sandbox_control, subscription_id, "BILLING.SUBSCRIPTION.CREATED")
    headers = intercepted(sandbox_control, receiver, created)

    later = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A CANCELLED event PayPal never sent is refused; the genuine CREATED event claiming a cancelled
    # subscription is applied as PayPal shows the subscription.
    cancelled = {**created, "id": f"WH-FORGED-{uuid.uuid4().hex[:10]}", "event_type": "BILLING.SUBSCRIPTION.CANCELLED"}
    cancelled["resource"] = {**created["resource"], "status": "CANCELLED", "update_time": later}
    answer = post_forged(receiver, headers, cancelled, created)
    assert answer.status_code == 422, answer.text
    lie = {**created, "resource": cancelled["resource"]}
    answer = post_forged(receiver, headers, lie, created)
    assert answer.status_code == 200, answer.text
    row = sql_r.execute(
        "SELECT status FROM paypal_subscriptions WHERE paypal_subscription_id = %s", [subscription_id]
    ).fetchone()
    assert row is not None
    assert row[0] == "APPROVAL_PENDING"
