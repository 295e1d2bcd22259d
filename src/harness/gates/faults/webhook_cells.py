"""The webhook cell: each event delivered three times, the newer one first, genuinely signed.

The matrix's webhook endpoints at the sandbox receive only what a cell asks the sandbox to deliver
(`webhooks_on_demand`), so the order and the number of deliveries are the cell's. Stripe events are
signed with the endpoint's secret, PayPal's by the sandbox's PayPal signer for the service's webhook
id: what the service verifies is what the providers send. What the CRM shows afterwards is compared
with what the provider itself holds.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import stripe

from harness.gates.faults.cells import Cell
from harness.gates.faults.lab import FaultLab, User, answer, require

TIMES = 3
PAYPAL_RETURN = {"returnUrl": "https://crm.example/paypal/return", "cancelUrl": "https://crm.example/paypal/cancel"}


def _deliver_newest_first(lab: FaultLab, provider: str, endpoint_id: str | None, event_ids: list[str]) -> str:
    """Deliver the events (oldest first in `event_ids`) newest first, each TIMES times; check the answers:
    each event accepted as new once, then acknowledged as a duplicate."""
    delivered = lab.control.post(
        f"/{provider}/webhooks/deliver",
        json={"endpoint_id": endpoint_id, "event_ids": event_ids, "times": TIMES, "order": "reversed", "retry": False},
    )
    attempts = answer(delivered, 200, f"the sandbox delivering the {provider} events")["attempts"]
    bodies = []
    for attempt in attempts:
        require(attempt["status_code"] == 200, f"a {provider} delivery was not accepted: {attempt}")
        bodies.append(httpx.Response(200, content=attempt["response_body"].encode()).json())
    duplicates = [bool(body.get("duplicate")) for body in bodies]
    expected = [False, *[True] * (TIMES - 1)] * len(event_ids)
    require(duplicates == expected, f"{provider}: each event new once, then duplicates; the answers were {bodies}")
    return ", ".join(str(body.get("outcome")) for body in bodies[::TIMES])


def _events_about(lab: FaultLab, provider: str, object_id: str, types: list[str]) -> list[str]:
    """The ids of the provider's events of `types` about `object_id`, in the order of `types`."""
    found = answer(lab.control.get(f"/{provider}/events"), 200, f"{provider} events")
    ids = []
    for event_type in types:
        matching = [
            event["id"]
            for event in found
            if event.get("type", event.get("event_type")) == event_type and object_id in str(event)
        ]
        require(len(matching) == 1, f"expected one {event_type} event about {object_id}, found {matching}")
        ids.append(matching[0])
    return ids


def _stripe_subscription_cancelled(lab: FaultLab, user: User) -> str:
    account = answer(lab.control.post("/stripe/accounts", json={"customers": 1}), 201, "a Stripe account")
    http = stripe.HTTPXClient(allow_sync_methods=True)
    merchant = stripe.StripeClient(
        account["secret_key"], base_addresses={"api": f"{lab.sandbox_url}/stripe"}, http_client=http
    )
    try:
        connected = user.client.post(
            "/api/integrations",
            json={"integrationType": "STRIPE", "integrationName": "stripe-faults", "apiKey": account["secret_key"]},
        )
        integration = answer(connected, 201, "connecting Stripe")["integration"]["id"]
        customer = merchant.v1.customers.create(params={"email": "buyer@example.com"})
        price = merchant.v1.prices.create(
            params={
                "currency": "usd",
                "unit_amount": 1500,
                "recurring": {"interval": "month"},
                "product_data": {"name": "seat"},
            }
        )
        made = user.client.post(
            "/api/integrations/stripe/subscriptions",
            json={"integrationId": integration, "customer": customer.id, "price": price.id},
        )
        subscription = answer(made, 201, "subscribing through the service")["subscription"]["stripeSubscriptionId"]
        merchant.v1.subscriptions.update(subscription, params={"cancel_at_period_end": True})
        lab.control.post("/clock/advance", json={"seconds": 2})  # the cancellation is the newer event by its time
        merchant.v1.subscriptions.cancel(subscription)
        held = merchant.v1.subscriptions.retrieve(subscription).status
    finally:
        http.close()  # type: ignore[no-untyped-call]  # stripe's HTTPXClient.close is untyped
    types = ["customer.subscription.updated", "customer.subscription.deleted"]
    events = _events_about(lab, "stripe", subscription, types)
    outcomes = _deliver_newest_first(lab, "stripe", None, events)
    listed = user.client.get("/api/integrations/stripe/subscriptions", params={"integrationId": integration})
    [stored] = answer(listed, 200, "the stored Stripe subscriptions")["subscriptions"]
    require(
        stored["status"] == held == "canceled",
        f"Stripe holds the subscription {held}; the CRM shows {stored['status']} after the older event came last",
    )
    return f"Stripe updated+deleted ({outcomes}): stored {stored['status']} = Stripe's"


def _paypal_sale_refunded(lab: FaultLab, user: User) -> str:
    client_id, secret = f"faults-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    app = {"provider": "paypal", "client_id": client_id, "client_secret": secret}
    answer(lab.control.post("/clients", json=app), 201, "a PayPal REST app")
    credentials = {"apiKey": client_id, "apiSecret": secret}
    connected = user.client.post(
        "/api/integrations", json={"integrationType": "PAYPAL", "integrationName": "paypal-faults", **credentials}
    )
    integration = answer(connected, 201, "connecting PayPal")["integration"]["id"]
    made = user.client.post(
        "/api/integrations/paypal/payments",
        json={"integrationId": integration, "amount": "40.00", "currency": "USD", **PAYPAL_RETURN},
    )
    payment = answer(made, 201, "a PayPal payment through the service")
    approved = httpx.get(payment["approvalUrl"], timeout=30)
    require(approved.status_code == 302, f"the buyer's approval at PayPal: {approved.status_code}")
    payer = httpx.URL(approved.headers["location"]).params["PayerID"]
    merchant = _paypal_merchant(lab, client_id, secret)
    payment_id = payment["payment"]["paypalPaymentId"]
    executed = answer(
        merchant.post(f"/v1/payments/payment/{payment_id}/execute", json={"payer_id": payer}), 200, "executing"
    )
    sale_id = executed["transactions"][0]["related_resources"][0]["sale"]["id"]
    lab.control.post("/clock/advance", json={"seconds": 2})  # the refund is the newer event by its time
    answer(merchant.post(f"/v1/payments/sale/{sale_id}/refund", json={}), 201, "refunding at PayPal")
    held = answer(merchant.get(f"/v1/payments/sale/{sale_id}"), 200, "the sale at PayPal")["state"]
    events = _events_about(lab, "paypal", sale_id, ["PAYMENT.SALE.COMPLETED", "PAYMENT.SALE.REFUNDED"])
    webhook_id = lab.stack.webhook_settings["PAYPAL_WEBHOOK_ID"]
    outcomes = _deliver_newest_first(lab, "paypal", webhook_id, events)
    listed = user.client.get("/api/integrations/paypal/payments", params={"integrationId": integration})
    [stored] = answer(listed, 200, "the stored PayPal payments")["payments"]
    require(
        stored["state"] == held == "refunded" and float(stored["refundedAmount"]) == 40.0,
        f"PayPal holds the sale {held} (40.00 refunded); the CRM shows {stored} after the older event came last",
    )
    return f"PayPal completed+refunded ({outcomes}): stored {stored['state']} = PayPal's"


def _paypal_merchant(lab: FaultLab, client_id: str, secret: str) -> httpx.Client:
    """The REST app's own access to the PayPal API (the sandbox), not through the service."""
    merchant = lab.client(f"{lab.sandbox_url}/paypal")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    token = merchant.post(
        "/v1/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    merchant.headers["Authorization"] = f"Bearer {answer(token, 200, 'a PayPal token')['access_token']}"
    return merchant


def duplicated_and_reordered(lab: FaultLab) -> str:
    user = lab.user("webhooks")
    found: list[Any] = [_stripe_subscription_cancelled(lab, user), _paypal_sale_refunded(lab, user)]
    return "; ".join(found)


DUPLICATED_AND_REORDERED = Cell(
    "webhooks delivered 3 times each, the newer event first (Stripe genuinely signed, PayPal by the sandbox's signer)",
    "each event accepted as new once and acknowledged as a duplicate twice; the CRM ends in the state the "
    "provider holds (the older event arriving last changes nothing)",
    ("STRIPE-04", "PAYPAL-05"),
    duplicated_and_reordered,
)
