"""Steps of the Stripe scenarios (STRIPE-01..STRIPE-06) and their webhooks, against "the provider"
(steps/providers/payment_provider.py): the provider sandbox, or a real Stripe account in test mode.

At the sandbox every scenario makes its own Stripe account, so the objects, events and requests it looks
at are its own; in test mode it makes its own customers, prices and charges. What Stripe holds is read
straight from Stripe's API with the account's own credentials ("the merchant", the `stripe` SDK), never
through the service. Webhook events are genuine: delivered by the sandbox through an endpoint of the
scenario's own account that shares the stage's signing secret (and receives nothing unless asked), or
signed here with that secret by Stripe's scheme. The steps on the webhook's answers, shared with PayPal,
are in steps/support/payments.py.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from pytest_bdd import given, parsers, then, when

from harness.ops.smoke import stripe_signature
from steps.common import World
from steps.providers.payment_provider import stripe_provider
from steps.support.payments import (
    NAME,
    ObjectKind,
    PaymentObjects,
    StripeAccount,
    check_record,
    deliver_event,
    expect,
    payment_integration_id,
    stored_record,
)

STRIPE_VARIANTS = {
    "signed an hour ago with the endpoint's secret (a replay)": "stale_timestamp",
    "signed with another secret": "wrong_secret",
    "without a signature": "missing_signature",
    "with its body changed after signing": "tampered_body",
}


def _stripe(world: World, payments: PaymentObjects) -> StripeAccount:
    account: StripeAccount | None = payments.stripe
    assert account is not None, "no Stripe account was connected in this scenario"
    return account


def _endpoint(world: World, payments: PaymentObjects) -> str:
    """The account's sandbox endpoint, which delivers events on demand (`@sandbox` scenarios only)."""
    endpoint = _stripe(world, payments).endpoint_id
    assert endpoint is not None, "only a sandbox Stripe account delivers events on demand: tag the scenario @sandbox"
    return endpoint


@given(parsers.re(rf"{NAME} has connected a new Stripe account(?: with (?P<charges>\d+) past charges)?$"))
def stripe_account_connected(
    world: World, payments: PaymentObjects, name: str, charges: str | None, request: pytest.FixtureRequest
) -> None:
    account = stripe_provider(world, request).new_account(int(charges or 0))
    payments.stripe = account
    connected = world.user(name).client.post(
        "/api/integrations",
        json={
            "integrationType": "STRIPE",
            "integrationName": f"stripe-{uuid.uuid4().hex[:6]}",
            "apiKey": account.secret_key,
        },
    )
    payments.integration_id = expect(connected, 201, "connecting Stripe")["integration"]["id"]
    payments.owner = name


def _pay_with_card(world: World, payments: PaymentObjects, name: str, cents: int, card: str) -> httpx.Response:
    response = world.user(name).client.post(
        "/api/integrations/stripe/payment-intents",
        json={
            "integrationId": payment_integration_id(payments),
            "amount": cents,
            "currency": "usd",
            "paymentMethod": card,
        },
    )
    if response.status_code == 201 and response.json().get("payment"):
        payments.stripe_charge_id = response.json()["payment"]["stripeChargeId"]
    return response


@when(
    parsers.re(rf'{NAME} creates a Stripe payment intent of (?P<cents>\d+) cents paid with the card "(?P<card>\w+)"$')
)
def stripe_payment_intent(world: World, payments: PaymentObjects, name: str, cents: str, card: str) -> None:
    world.response = _pay_with_card(world, payments, name, int(cents), card)


@then(parsers.re(r"the payment intent has succeeded with a charge of (?P<cents>\d+) cents$"))
def stripe_intent_succeeded(world: World, payments: PaymentObjects, cents: str) -> None:
    body = world.last_response().json()
    assert body["status"] == "succeeded", f"expected a succeeded payment intent: {body}"
    charge = (body["payment"]["amount"], body["payment"]["status"])
    assert charge == (int(cents), "succeeded"), f"expected a succeeded charge of {cents} cents: {body}"
    payments.stripe_payment_intent = body["paymentIntentId"]


@then(parsers.re(r'Stripe holds the payment intent as "(?P<status>\w+)" for (?P<cents>\d+) cents$'))
def stripe_holds_intent(world: World, payments: PaymentObjects, status: str, cents: str) -> None:
    intent = _stripe(world, payments).merchant.v1.payment_intents.retrieve(payments.need("stripe_payment_intent"))
    assert (intent.status, intent.amount) == (status, int(cents)), f"Stripe holds {intent.status} {intent.amount}"


@given(
    parsers.re(
        rf"{NAME} took a card payment of (?P<cents>\d+) cents through the service"
        r"(?:, and (?P<refunded>\d+) were refunded at Stripe)?$"
    )
)
def stripe_paid(world: World, payments: PaymentObjects, name: str, cents: str, refunded: str | None) -> None:
    expect(_pay_with_card(world, payments, name, int(cents), "pm_card_visa"), 201, "a card payment")
    if refunded:
        charge = payments.need("stripe_charge_id")
        _stripe(world, payments).merchant.v1.refunds.create(params={"charge": charge, "amount": int(refunded)})


@given(parsers.re(rf"a card payment of (?P<cents>\d+) cents by {NAME} was declined through the service$"))
def stripe_declined(world: World, payments: PaymentObjects, name: str, cents: str) -> None:
    expect(_pay_with_card(world, payments, name, int(cents), "pm_card_chargeDeclined"), 402, "a declined card payment")
    payments.stripe_charge_id = stored_record(world, payments, name, "stripe", "payment")["stripeChargeId"]


@given(parsers.re(r"the Stripe account has a customer and a monthly price of (?P<cents>\d+) cents$"))
def stripe_customer_and_price(world: World, payments: PaymentObjects, cents: str) -> None:
    merchant = _stripe(world, payments).merchant
    customer = merchant.v1.customers.create(params={"email": f"buyer-{uuid.uuid4().hex[:6]}@example.com"})
    price = merchant.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": int(cents),
            "recurring": {"interval": "month"},
            "product_data": {"name": "CRM seat"},
        }
    )
    payments.stripe_customer = customer.id
    payments.stripe_price = price.id


@given(parsers.re(rf"{NAME} has subscribed the Stripe customer to the price$"))
@when(parsers.re(rf"{NAME} subscribes the Stripe customer to the price$"))
def stripe_subscribe(world: World, payments: PaymentObjects, name: str) -> None:
    world.response = world.user(name).client.post(
        "/api/integrations/stripe/subscriptions",
        json={
            "integrationId": payment_integration_id(payments),
            "customer": payments.need("stripe_customer"),
            "price": payments.need("stripe_price"),
        },
    )
    if world.response.status_code == 201:
        payments.stripe_subscription_id = world.response.json()["subscription"]["stripeSubscriptionId"]


@given(
    parsers.re(
        rf"{NAME} subscribed a customer through the service"
        r"(?:, and it was (?P<change>set to cancel at period end|cancelled) at Stripe)?$"
    )
)
def stripe_subscribed(world: World, payments: PaymentObjects, name: str, change: str | None) -> None:
    stripe_customer_and_price(world, payments, "1500")
    stripe_subscribe(world, payments, name)
    expect(world.last_response(), 201, "subscribing a customer")
    subscription = payments.need("stripe_subscription_id")
    merchant = _stripe(world, payments).merchant
    # No pause: a change made at Stripe within the second the service read the subscription must still
    # be applied (Stripe dates events in whole seconds).
    if change == "cancelled":
        merchant.v1.subscriptions.cancel(subscription)
    elif change:
        merchant.v1.subscriptions.update(subscription, params={"cancel_at_period_end": True})


@when(parsers.re(rf"{NAME} cancels the Stripe subscription$"))
def stripe_cancel(world: World, payments: PaymentObjects, name: str) -> None:
    world.response = world.user(name).client.delete(
        f"/api/integrations/stripe/subscriptions/{payments.need('stripe_subscription_id')}",
        params={"integrationId": payment_integration_id(payments)},
    )


@then(parsers.re(r'Stripe holds the subscription as "(?P<status>\w+)" for the customer and the price$'))
def stripe_holds_subscription(world: World, payments: PaymentObjects, status: str) -> None:
    held = _stripe(world, payments).merchant.v1.subscriptions.retrieve(payments.need("stripe_subscription_id"))
    price = held["items"]["data"][0]["price"]["id"]
    seen = (held.status, held.customer, price)
    expected = (status, payments.need("stripe_customer"), payments.need("stripe_price"))
    assert seen == expected, f"Stripe holds {seen}, expected {expected}"


@then(parsers.re(rf"the Stripe (?P<record>payment|subscription) of {NAME} shows (?P<expected>.+)$"))
@given(parsers.re(rf"the Stripe (?P<record>payment|subscription) of {NAME} shows (?P<expected>.+)$"))
def stripe_record_shows(world: World, payments: PaymentObjects, record: str, name: str, expected: str) -> None:
    check_record(stored_record(world, payments, name, "stripe", record), expected, f"{name}'s Stripe {record}")


@when(parsers.re(rf"{NAME} refunds (?:(?P<cents>\d+) cents of|the rest of) the Stripe payment$"))
def stripe_refund(world: World, payments: PaymentObjects, name: str, cents: str | None) -> None:
    body: dict[str, Any] = {
        "integrationId": payment_integration_id(payments),
        "charge": payments.need("stripe_charge_id"),
    }
    if cents:
        body["amount"] = int(cents)
    world.response = world.user(name).client.post("/api/integrations/stripe/refunds", json=body)


@then(parsers.re(r"Stripe holds the charge with (?P<cents>\d+) cents refunded$"))
def stripe_holds_refund(world: World, payments: PaymentObjects, cents: str) -> None:
    charge = _stripe(world, payments).merchant.v1.charges.retrieve(payments.need("stripe_charge_id"))
    assert charge.amount_refunded == int(cents), f"Stripe holds {charge.amount_refunded} cents refunded"


@when(parsers.re(rf"{NAME} syncs the Stripe payments$"))
def stripe_sync(world: World, payments: PaymentObjects, name: str) -> None:
    world.response = world.user(name).client.post(
        "/api/integrations/sync", json={"integrationId": payment_integration_id(payments), "dataType": "payments"}
    )


@then(parsers.re(r"the Stripe sync stored (?P<count>\d+) records$"))
def stripe_sync_stored(world: World, count: str) -> None:
    result = expect(world.last_response(), 200, "the payments sync")["result"]
    seen = (result["status"], result["totalRecords"], result["syncedRecords"], result["failedRecords"])
    assert seen == ("success", int(count), int(count), 0), f"expected {count} records stored: {result}"


@when(parsers.re(r"a customer pays (?P<cents>\d+) cents directly at Stripe$"))
def stripe_direct_payment(world: World, payments: PaymentObjects, cents: str) -> None:
    _stripe(world, payments).merchant.v1.payment_intents.create(
        params={"amount": int(cents), "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )


@then(parsers.re(rf"the Stripe payments of {NAME} are exactly the charges Stripe holds$"))
def stripe_history_complete(world: World, payments: PaymentObjects, name: str) -> None:
    held = {
        charge.id: (charge.amount, charge.amount_refunded, charge.status)
        for charge in _stripe(world, payments).merchant.v1.charges.list(params={"limit": 100}).auto_paging_iter()
    }
    stored: dict[str, tuple[int, int, str]] = {}
    client = world.user(name).client
    while True:
        page = expect(
            client.get(
                "/api/integrations/stripe/payments",
                params={"integrationId": payment_integration_id(payments), "limit": 500, "offset": len(stored)},
            ),
            200,
            "the stored Stripe payments",
        )
        for row in page["payments"]:
            stored[row["stripeChargeId"]] = (int(row["amount"]), int(row["amountRefunded"]), row["status"])
        if not page["payments"] or len(stored) >= page["total"]:
            break
    missing, extra = held.keys() - stored.keys(), stored.keys() - held.keys()
    wrong = {key: (stored[key], held[key]) for key in held.keys() & stored.keys() if stored[key] != held[key]}
    differences = len(missing) + len(extra) + len(wrong)
    assert differences == 0, (
        f"Stripe holds {len(held)} charges, {name} has {len(stored)}: {len(missing)} missing (e.g. "
        f"{sorted(missing)[:3]}), {len(extra)} not at Stripe, {len(wrong)} different (e.g. {list(wrong.items())[:3]})"
    )


def _latest_stripe_event(world: World, event_type: str, object_id: str) -> str:
    events = world.sandbox().get("/stripe/events", params={"type": event_type}).json()
    ids = [event["id"] for event in events if event["data"]["object"]["id"] == object_id]
    assert ids, f"Stripe sent no {event_type} event about {object_id}"
    return str(ids[-1])


@when(
    parsers.re(
        r"Stripe delivers its (?P<event>[a-z_.]+) event about the (?P<record>payment|subscription) to the webhook$"
    )
)
def stripe_delivers(world: World, payments: PaymentObjects, event: str, record: str) -> None:
    key: ObjectKind = "stripe_charge_id" if record == "payment" else "stripe_subscription_id"
    payments.event_id = _latest_stripe_event(world, event, payments.need(key))
    deliver_event(world, "stripe", _endpoint(world, payments), payments.need("event_id"))


@when(parsers.re(r"Stripe delivers the same event (?:again|genuinely signed)$"))
def stripe_delivers_again(world: World, payments: PaymentObjects) -> None:
    deliver_event(world, "stripe", _endpoint(world, payments), payments.need("event_id"))


@when(parsers.re(r"Stripe's (?P<event>[a-z_.]+) event reaches the webhook (?P<how>.+)$"))
def stripe_delivers_forged(world: World, payments: PaymentObjects, event: str, how: str) -> None:
    assert how in STRIPE_VARIANTS, f"unknown way to sign a Stripe event: {how!r} (known: {list(STRIPE_VARIANTS)})"
    payments.event_id = _latest_stripe_event(world, event, payments.need("stripe_charge_id"))
    deliver_event(world, "stripe", _endpoint(world, payments), payments.need("event_id"), STRIPE_VARIANTS[how])


@given("a Stripe charge.succeeded event about a charge this service has never seen", target_fixture="stripe_event_body")
def stripe_unknown_event(world: World, request: pytest.FixtureRequest) -> bytes:
    if not world.target.stripe_webhook_secret or world.target.database_url is None:
        pytest.fail("this scenario needs the stage's Stripe webhook secret and database (to clean up after itself)")
    event_id, database_url = f"evt_qa_{uuid.uuid4().hex}", world.target.database_url
    charge = {"id": f"ch_qa_{uuid.uuid4().hex}", "object": "charge", "status": "succeeded", "amount": 100}
    charge.update(currency="usd", amount_refunded=0, refunded=False, created=int(time.time()))
    event = {"id": event_id, "object": "event", "type": "charge.succeeded", "created": int(time.time())}
    event.update(data={"object": charge}, livemode=False, api_version="2024-06-20")

    def forget_event() -> None:  # the stage keeps no trace of the scenario
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("DELETE FROM webhook_events WHERE provider = 'stripe' AND event_id = %s", [event_id])

    request.addfinalizer(forget_event)
    return json.dumps(event).encode()


@when(
    parsers.re(
        r"the event is sent to the Stripe webhook signed (?P<when>now|an hour ago) "
        r"with (?P<key>the endpoint's secret|another secret)$"
    )
)
def stripe_signed_here(world: World, stripe_event_body: bytes, when: str, key: str) -> None:
    body = stripe_event_body
    signing = world.target.stripe_webhook_secret if key == "the endpoint's secret" else f"whsec_{secrets.token_hex(16)}"
    assert signing is not None
    moment = int(time.time()) - (3600 if when == "an hour ago" else 0)
    world.response = world.client().post(
        "/api/integrations/stripe/webhook",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature(body, signing, moment)},
    )
