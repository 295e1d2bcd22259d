"""Steps of the payment scenarios: Stripe and PayPal against the provider sandbox, and their webhooks.

Every scenario makes its own Stripe account / PayPal REST app at the sandbox, so the objects, events,
token grants and requests it looks at are its own. What the provider holds is read straight from the
sandbox's provider API with the account's own credentials ("the merchant"), never through the service.

Webhook events are genuine: Stripe's are delivered by the sandbox through an endpoint of the
scenario's own account that shares the stage's signing secret (and receives nothing unless asked),
or signed here with that secret by Stripe's scheme; PayPal's are signed by the sandbox with its
certificate. PayPal signs for one webhook id and the stage's own PayPal webhook receives every event
in the background, so PayPal webhook scenarios use a second copy of the service (`paypal_receiver`),
with its own database, whose webhook gets only what a scenario delivers.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
import stripe
from pytest_bdd import given, parsers, then, when

from harness.database import create_database, drop_database
from harness.ops.common import Target
from harness.ops.migrate import run_alembic
from harness.ops.smoke import stripe_signature
from harness.processes import free_port
from harness.scenario_target import ScenarioTarget
from harness.scenarios import LOCAL_SERVICE_ENV
from harness.stack import sandbox_service_env, service_process
from harness.tokens import issue_token_on
from steps.common import HTTP_TIMEOUT_S, ApiUser, World, describe

NAME = r'"(?P<name>[^"]+)"'
NEVER_SENT = "SANDBOX.NEVER.SENT"  # an event type no API call emits: an endpoint that only gets deliveries
RETURN_URLS = {"returnUrl": "https://crm.example/paypal/return", "cancelUrl": "https://crm.example/paypal/cancel"}
DENIED_PAYER = "DENYPAYER2345"  # the PayPal sandbox's buyer whose payments are denied
UNAPPROVED_PAYER = "QAPAYERNEVERAPPROVED"
STRIPE_VARIANTS = {
    "signed an hour ago with the endpoint's secret (a replay)": "stale_timestamp",
    "signed with another secret": "wrong_secret",
    "without a signature": "missing_signature",
    "with its body changed after signing": "tampered_body",
}
PAYPAL_VARIANTS = {
    "without its signature": "missing_signature",
    "signed with a key that is not the one in PayPal's certificate": "wrong_secret",
    "signed by an impostor whose certificate is not at PayPal's address": "foreign_cert_url",
    "with its body changed after signing": "tampered_body",
    "signed an hour ago": "stale_timestamp",
}

# (provider, record) -> the fact holding the scenario's object id, and the id's field in the service's answer
RECORD_KEYS = {
    ("stripe", "payment"): ("stripe_charge_id", "stripeChargeId"),
    ("stripe", "subscription"): ("stripe_subscription_id", "stripeSubscriptionId"),
    ("paypal", "payment"): ("paypal_payment_id", "paypalPaymentId"),
    ("paypal", "subscription"): ("paypal_subscription_id", "paypalSubscriptionId"),
}


# --- the scenario's services, accounts and objects ----------------------------------------------------


@dataclass(frozen=True)
class OtherService:
    """A copy of the service a scenario talks to instead of the stage's (same code, other settings)."""

    url: str
    database_url: str
    paypal_webhook_id: str


@dataclass
class StripeAccount:
    account_id: str
    endpoint_id: str  # the account's own sandbox endpoint: signed with the stage's secret, delivers on demand
    merchant: stripe.StripeClient


@dataclass
class PayPalApp:
    client_id: str
    client_secret: str
    merchant: httpx.Client | None = None  # the app's own access to the PayPal API, made on first use


def _need_sandbox_url(target: ScenarioTarget) -> str:
    if target.sandbox_url is None or target.database_url is None:
        pytest.fail("this scenario needs the provider sandbox and the stage's database (local stage only)")
    return target.sandbox_url


def _user(world: World, name: str) -> ApiUser:
    """The user `name`, on the other service when the scenario uses one, else on the stage's."""
    other: OtherService | None = world.facts.get("service")
    if other is None or name in world.users:
        return world.user(name)
    account = f"qa-{name.lower()}-{uuid.uuid4().hex[:10]}"
    token = issue_token_on(other.database_url, "local", account, "checklist scenario")
    client = world.client(base_url=other.url, headers={"Authorization": f"Bearer {token}"})
    world.users[name] = ApiUser(name=name, account=account, token=token, client=client)
    return world.users[name]


def _expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    assert response.status_code == status, f"{what}: expected {status}: {describe(response)}"
    body: dict[str, Any] = response.json()
    return body


def _integration(world: World) -> str:
    integration_id: str | None = world.facts.get("integration_id")
    assert integration_id is not None, "no payment integration was connected in this scenario"
    return integration_id


def _object_id(world: World, kind: str) -> str:
    object_id: str | None = world.facts.get(kind)
    assert object_id is not None, f"no {kind.replace('_', ' ')} was made in this scenario"
    return object_id


def _pairs(expected: str) -> list[tuple[str, str]]:
    """`status succeeded, amountRefunded 0` as [(field, value), ...]."""
    pairs = []
    for part in expected.split(","):
        field, _, value = part.strip().partition(" ")
        pairs.append((field, value.strip()))
    return pairs


def _same(actual: Any, expected: str) -> bool:
    if isinstance(actual, bool) or actual is None:
        return str(actual).lower() == expected.lower()
    try:
        return Decimal(str(actual)) == Decimal(expected)
    except InvalidOperation:
        return str(actual) == expected


def _check_record(record: dict[str, Any], expected: str, what: str) -> None:
    wrong = {field: record.get(field) for field, value in _pairs(expected) if not _same(record.get(field), value)}
    assert not wrong, f"{what} should show {expected}, but shows {wrong}; the record: {record}"


def _stored(world: World, name: str, provider: str, record: str) -> dict[str, Any]:
    """The one record of the scenario's object (or, before its id is known, its integration's only one)."""
    collection = f"{record}s"
    answer = _user(world, name).client.get(
        f"/api/integrations/{provider}/{collection}", params={"integrationId": _integration(world), "limit": 500}
    )
    rows: list[dict[str, Any]] = _expect(answer, 200, f"{name}'s {provider} {collection}")[collection]
    fact, id_field = RECORD_KEYS[(provider, record)]
    wanted = world.facts.get(fact)
    found = [row for row in rows if wanted is None or row[id_field] == wanted]
    assert len(found) == 1, f"expected exactly one {provider} {record} {wanted or ''} of {name}, found {found}"
    return found[0]


def _as_response(attempt: dict[str, Any]) -> httpx.Response:
    """A sandbox delivery attempt as the response the webhook gave, for the shared response steps."""
    if attempt["status_code"] is None:
        pytest.fail(f"the webhook delivery to {attempt['url']} failed: {attempt['error']}")
    request = httpx.Request("POST", attempt["url"])
    return httpx.Response(attempt["status_code"], content=attempt["response_body"].encode(), request=request)


def _deliver(world: World, provider: str, endpoint_id: str, event_id: str, variant: str = "valid") -> None:
    answer = world.sandbox().post(
        f"/{provider}/webhooks/deliver",
        json={"endpoint_id": endpoint_id, "event_ids": [event_id], "variant": variant, "retry": False},
    )
    [attempt] = _expect(answer, 200, f"the sandbox delivering {event_id}")["attempts"]
    world.response = _as_response(attempt)


# --- Stripe -------------------------------------------------------------------------------------------


def _stripe(world: World) -> StripeAccount:
    account: StripeAccount | None = world.facts.get("stripe")
    assert account is not None, "no Stripe account was connected in this scenario"
    return account


@given(parsers.re(rf"{NAME} has connected a new Stripe account(?: with (?P<charges>\d+) past charges)?$"))
def stripe_account_connected(world: World, name: str, charges: str | None, request: pytest.FixtureRequest) -> None:
    sandbox_url = _need_sandbox_url(world.target)
    secret = world.target.stripe_webhook_secret
    if not secret:
        pytest.fail("the stage's Stripe webhook secret (QA_STRIPE_WEBHOOK_SECRET) is not set")
    control = world.sandbox()
    created = _expect(
        control.post("/stripe/accounts", json={"charges": int(charges or 0), "customers": 2}), 201, "a Stripe account"
    )
    endpoint = _expect(
        control.post(
            "/stripe/webhooks",
            json={
                "url": f"{world.target.service_url}/api/integrations/stripe/webhook",
                "secret": secret,
                "account": created["id"],
                "enabled_events": [NEVER_SENT],
                "max_attempts": 1,
            },
        ),
        201,
        "a Stripe webhook endpoint",
    )
    http = stripe.HTTPXClient(allow_sync_methods=True)
    request.addfinalizer(http.close)
    request.addfinalizer(lambda: httpx.delete(f"{sandbox_url}/_sandbox/stripe/webhooks/{endpoint['id']}"))
    merchant = stripe.StripeClient(
        created["secret_key"], base_addresses={"api": f"{sandbox_url}/stripe"}, http_client=http
    )
    world.facts["stripe"] = StripeAccount(created["id"], endpoint["id"], merchant)
    connected = world.user(name).client.post(
        "/api/integrations",
        json={
            "integrationType": "STRIPE",
            "integrationName": f"stripe-{uuid.uuid4().hex[:6]}",
            "apiKey": created["secret_key"],
        },
    )
    world.facts["integration_id"] = _expect(connected, 201, "connecting Stripe")["integration"]["id"]
    world.facts["owner"] = name


def _pay_with_card(world: World, name: str, cents: int, card: str) -> httpx.Response:
    response = world.user(name).client.post(
        "/api/integrations/stripe/payment-intents",
        json={"integrationId": _integration(world), "amount": cents, "currency": "usd", "paymentMethod": card},
    )
    if response.status_code == 201 and response.json().get("payment"):
        world.facts["stripe_charge_id"] = response.json()["payment"]["stripeChargeId"]
    return response


@when(
    parsers.re(rf'{NAME} creates a Stripe payment intent of (?P<cents>\d+) cents paid with the card "(?P<card>\w+)"$')
)
def stripe_payment_intent(world: World, name: str, cents: str, card: str) -> None:
    world.response = _pay_with_card(world, name, int(cents), card)


@then(parsers.re(r"the payment intent has succeeded with a charge of (?P<cents>\d+) cents$"))
def stripe_intent_succeeded(world: World, cents: str) -> None:
    body = world.last_response().json()
    assert body["status"] == "succeeded", f"expected a succeeded payment intent: {body}"
    charge = (body["payment"]["amount"], body["payment"]["status"])
    assert charge == (int(cents), "succeeded"), f"expected a succeeded charge of {cents} cents: {body}"
    world.facts["stripe_payment_intent"] = body["paymentIntentId"]


@then(parsers.re(r'Stripe holds the payment intent as "(?P<status>\w+)" for (?P<cents>\d+) cents$'))
def stripe_holds_intent(world: World, status: str, cents: str) -> None:
    intent = _stripe(world).merchant.v1.payment_intents.retrieve(_object_id(world, "stripe_payment_intent"))
    assert (intent.status, intent.amount) == (status, int(cents)), f"Stripe holds {intent.status} {intent.amount}"


@given(
    parsers.re(
        rf"{NAME} took a card payment of (?P<cents>\d+) cents through the service"
        r"(?:, and (?P<refunded>\d+) were refunded at Stripe)?$"
    )
)
def stripe_paid(world: World, name: str, cents: str, refunded: str | None) -> None:
    _expect(_pay_with_card(world, name, int(cents), "pm_card_visa"), 201, "a card payment")
    if refunded:
        charge = _object_id(world, "stripe_charge_id")
        _stripe(world).merchant.v1.refunds.create(params={"charge": charge, "amount": int(refunded)})


@given(parsers.re(rf"a card payment of (?P<cents>\d+) cents by {NAME} was declined through the service$"))
def stripe_declined(world: World, name: str, cents: str) -> None:
    _expect(_pay_with_card(world, name, int(cents), "pm_card_chargeDeclined"), 402, "a declined card payment")
    world.facts["stripe_charge_id"] = _stored(world, name, "stripe", "payment")["stripeChargeId"]


@given(parsers.re(r"the Stripe account has a customer and a monthly price of (?P<cents>\d+) cents$"))
def stripe_customer_and_price(world: World, cents: str) -> None:
    merchant = _stripe(world).merchant
    customer = merchant.v1.customers.create(params={"email": f"buyer-{uuid.uuid4().hex[:6]}@example.com"})
    price = merchant.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": int(cents),
            "recurring": {"interval": "month"},
            "product_data": {"name": "CRM seat"},
        }
    )
    world.facts["stripe_customer"], world.facts["stripe_price"] = customer.id, price.id


@given(parsers.re(rf"{NAME} has subscribed the Stripe customer to the price$"))
@when(parsers.re(rf"{NAME} subscribes the Stripe customer to the price$"))
def stripe_subscribe(world: World, name: str) -> None:
    world.response = world.user(name).client.post(
        "/api/integrations/stripe/subscriptions",
        json={
            "integrationId": _integration(world),
            "customer": _object_id(world, "stripe_customer"),
            "price": _object_id(world, "stripe_price"),
        },
    )
    if world.response.status_code == 201:
        world.facts["stripe_subscription_id"] = world.response.json()["subscription"]["stripeSubscriptionId"]


@given(
    parsers.re(
        rf"{NAME} subscribed a customer through the service"
        r"(?:, and it was (?P<change>set to cancel at period end|cancelled) at Stripe)?$"
    )
)
def stripe_subscribed(world: World, name: str, change: str | None) -> None:
    stripe_customer_and_price(world, "1500")
    stripe_subscribe(world, name)
    _expect(world.last_response(), 201, "subscribing a customer")
    subscription = _object_id(world, "stripe_subscription_id")
    merchant = _stripe(world).merchant
    # No pause: a change made at Stripe within the second the service read the subscription must still
    # be applied (Stripe dates events in whole seconds).
    if change == "cancelled":
        merchant.v1.subscriptions.cancel(subscription)
    elif change:
        merchant.v1.subscriptions.update(subscription, params={"cancel_at_period_end": True})


@when(parsers.re(rf"{NAME} cancels the Stripe subscription$"))
def stripe_cancel(world: World, name: str) -> None:
    world.response = world.user(name).client.delete(
        f"/api/integrations/stripe/subscriptions/{_object_id(world, 'stripe_subscription_id')}",
        params={"integrationId": _integration(world)},
    )


@then(parsers.re(r'Stripe holds the subscription as "(?P<status>\w+)" for the customer and the price$'))
def stripe_holds_subscription(world: World, status: str) -> None:
    held = _stripe(world).merchant.v1.subscriptions.retrieve(_object_id(world, "stripe_subscription_id"))
    price = held["items"]["data"][0]["price"]["id"]
    seen = (held.status, held.customer, price)
    expected = (status, world.facts["stripe_customer"], world.facts["stripe_price"])
    assert seen == expected, f"Stripe holds {seen}, expected {expected}"


@then(parsers.re(rf"the Stripe (?P<record>payment|subscription) of {NAME} shows (?P<expected>.+)$"))
@given(parsers.re(rf"the Stripe (?P<record>payment|subscription) of {NAME} shows (?P<expected>.+)$"))
def stripe_record_shows(world: World, record: str, name: str, expected: str) -> None:
    _check_record(_stored(world, name, "stripe", record), expected, f"{name}'s Stripe {record}")


@when(parsers.re(rf"{NAME} refunds (?:(?P<cents>\d+) cents of|the rest of) the Stripe payment$"))
def stripe_refund(world: World, name: str, cents: str | None) -> None:
    body: dict[str, Any] = {"integrationId": _integration(world), "charge": _object_id(world, "stripe_charge_id")}
    if cents:
        body["amount"] = int(cents)
    world.response = world.user(name).client.post("/api/integrations/stripe/refunds", json=body)


@then(parsers.re(r"Stripe holds the charge with (?P<cents>\d+) cents refunded$"))
def stripe_holds_refund(world: World, cents: str) -> None:
    charge = _stripe(world).merchant.v1.charges.retrieve(_object_id(world, "stripe_charge_id"))
    assert charge.amount_refunded == int(cents), f"Stripe holds {charge.amount_refunded} cents refunded"


@when(parsers.re(rf"{NAME} syncs the Stripe payments$"))
def stripe_sync(world: World, name: str) -> None:
    world.response = world.user(name).client.post(
        "/api/integrations/sync", json={"integrationId": _integration(world), "dataType": "payments"}
    )


@then(parsers.re(r"the Stripe sync stored (?P<count>\d+) records$"))
def stripe_sync_stored(world: World, count: str) -> None:
    result = _expect(world.last_response(), 200, "the payments sync")["result"]
    seen = (result["status"], result["totalRecords"], result["syncedRecords"], result["failedRecords"])
    assert seen == ("success", int(count), int(count), 0), f"expected {count} records stored: {result}"


@when(parsers.re(r"a customer pays (?P<cents>\d+) cents directly at Stripe$"))
def stripe_direct_payment(world: World, cents: str) -> None:
    _stripe(world).merchant.v1.payment_intents.create(
        params={"amount": int(cents), "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )


@then(parsers.re(rf"the Stripe payments of {NAME} are exactly the charges Stripe holds$"))
def stripe_history_complete(world: World, name: str) -> None:
    held = {
        charge.id: (charge.amount, charge.amount_refunded, charge.status)
        for charge in _stripe(world).merchant.v1.charges.list(params={"limit": 100}).auto_paging_iter()
    }
    stored: dict[str, tuple[int, int, str]] = {}
    client = world.user(name).client
    while True:
        page = _expect(
            client.get(
                "/api/integrations/stripe/payments",
                params={"integrationId": _integration(world), "limit": 500, "offset": len(stored)},
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
def stripe_delivers(world: World, event: str, record: str) -> None:
    key = "stripe_charge_id" if record == "payment" else "stripe_subscription_id"
    world.facts["event_id"] = _latest_stripe_event(world, event, _object_id(world, key))
    _deliver(world, "stripe", _stripe(world).endpoint_id, world.facts["event_id"])


@when(parsers.re(r"Stripe delivers the same event (?:again|genuinely signed)$"))
def stripe_delivers_again(world: World) -> None:
    _deliver(world, "stripe", _stripe(world).endpoint_id, _object_id(world, "event_id"))


@when(parsers.re(r"Stripe's (?P<event>[a-z_.]+) event reaches the webhook (?P<how>.+)$"))
def stripe_delivers_forged(world: World, event: str, how: str) -> None:
    assert how in STRIPE_VARIANTS, f"unknown way to sign a Stripe event: {how!r} (known: {list(STRIPE_VARIANTS)})"
    world.facts["event_id"] = _latest_stripe_event(world, event, _object_id(world, "stripe_charge_id"))
    _deliver(world, "stripe", _stripe(world).endpoint_id, world.facts["event_id"], STRIPE_VARIANTS[how])


@given("a Stripe charge.succeeded event about a charge this service has never seen")
def stripe_unknown_event(world: World, request: pytest.FixtureRequest) -> None:
    if not world.target.stripe_webhook_secret or world.target.database_url is None:
        pytest.fail("this scenario needs the stage's Stripe webhook secret and database (to clean up after itself)")
    event_id, database_url = f"evt_qa_{uuid.uuid4().hex}", world.target.database_url
    charge = {"id": f"ch_qa_{uuid.uuid4().hex}", "object": "charge", "status": "succeeded", "amount": 100}
    charge.update(currency="usd", amount_refunded=0, refunded=False, created=int(time.time()))
    event = {"id": event_id, "object": "event", "type": "charge.succeeded", "created": int(time.time())}
    event.update(data={"object": charge}, livemode=False, api_version="2024-06-20")
    world.facts["stripe_event_body"] = json.dumps(event).encode()

    def forget_event() -> None:  # the stage keeps no trace of the scenario
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("DELETE FROM webhook_events WHERE provider = 'stripe' AND event_id = %s", [event_id])

    request.addfinalizer(forget_event)


@when(
    parsers.re(
        r"the event is sent to the Stripe webhook signed (?P<when>now|an hour ago) "
        r"with (?P<key>the endpoint's secret|another secret)$"
    )
)
def stripe_signed_here(world: World, when: str, key: str) -> None:
    body: bytes = world.facts["stripe_event_body"]
    signing = world.target.stripe_webhook_secret if key == "the endpoint's secret" else f"whsec_{secrets.token_hex(16)}"
    assert signing is not None
    moment = int(time.time()) - (3600 if when == "an hour ago" else 0)
    world.response = world.client().post(
        "/api/integrations/stripe/webhook",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature(body, signing, moment)},
    )


# --- the webhooks' answers (both providers) ------------------------------------------------------------


@then(parsers.re(r'the payment webhook accepts the event as new and "(?P<outcome>\w+)"$'))
def webhook_accepted(world: World, outcome: str) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the event to be accepted: {describe(response)}"
    body = response.json()
    seen = (body.get("received"), body.get("duplicate"), body.get("outcome"))
    assert seen == (True, False, outcome), f"expected a new event, {outcome}: {describe(response)}"


@then("the payment webhook acknowledges the event as a duplicate")
def webhook_duplicate(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the redelivery to be acknowledged: {describe(response)}"
    assert response.json().get("duplicate") is True, f"expected a duplicate: {describe(response)}"


@then(parsers.re(r"the payment webhook refuses the event with status (?P<status>\d+)$"))
def webhook_refused(world: World, status: str) -> None:
    response = world.last_response()
    assert response.status_code == int(status), f"expected the event to be refused with {status}: {describe(response)}"


@then(parsers.re(r"the payment integration's log holds (?P<count>\d+) webhook entr(?:y|ies)$"))
def webhook_log_entries(world: World, count: str) -> None:
    answer = _user(world, _object_id(world, "owner")).client.get(
        "/api/integrations/logs", params={"integrationId": _integration(world), "syncType": "webhook"}
    )
    logs = _expect(answer, 200, "the integration's logs")
    assert logs["total"] == int(count), f"expected {count} webhook log entries, found {logs['total']}: {logs['logs']}"


# --- PayPal ---------------------------------------------------------------------------------------------


def _paypal_app(world: World) -> PayPalApp:
    app: PayPalApp | None = world.facts.get("paypal_app")
    assert app is not None, "no PayPal REST app was made in this scenario"
    return app


def _paypal_merchant(world: World) -> httpx.Client:
    """The REST app's own access to the PayPal API (the sandbox), not through the service."""
    app = _paypal_app(world)
    if app.merchant is None:
        merchant = world.client(base_url=f"{_need_sandbox_url(world.target)}/paypal")
        basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
        token = merchant.post(
            "/v1/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        )
        merchant.headers["Authorization"] = f"Bearer {_expect(token, 200, 'a PayPal token')['access_token']}"
        app.merchant = merchant
    return app.merchant


def _paypal_get(world: World, path: str) -> dict[str, Any]:
    return _expect(_paypal_merchant(world).get(path), 200, f"PayPal GET {path}")


@given("a new PayPal REST app")
def paypal_new_app(world: World) -> None:
    _need_sandbox_url(world.target)
    app = PayPalApp(f"qa-paypal-{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(24))
    registered = world.sandbox().post(
        "/clients", json={"provider": "paypal", "client_id": app.client_id, "client_secret": app.client_secret}
    )
    _expect(registered, 201, "registering a PayPal REST app")
    world.facts["paypal_app"] = app


@when(
    parsers.re(
        rf"{NAME} connects PayPal(?: on the live-mode service)? with the REST app's client id "
        r"and (?P<which>secret|a wrong secret)$"
    )
)
def paypal_connect(world: World, name: str, which: str) -> None:
    app = _paypal_app(world)
    world.response = _user(world, name).client.post(
        "/api/integrations",
        json={
            "integrationType": "PAYPAL",
            "integrationName": f"paypal-{uuid.uuid4().hex[:6]}",
            "apiKey": app.client_id,
            "apiSecret": app.client_secret if which == "secret" else f"wrong-{app.client_secret}",
        },
    )
    if world.response.status_code == 201:
        world.facts["integration_id"] = world.response.json()["integration"]["id"]
        world.facts["owner"] = name


@given(parsers.re(rf"{NAME} has connected a new PayPal REST app$"))
def paypal_connected(world: World, name: str) -> None:
    paypal_new_app(world)
    paypal_connect(world, name, "secret")
    _expect(world.last_response(), 201, "connecting PayPal")


@then("the answer shows the PayPal integration without its client id or secret")
def paypal_no_credentials(world: World) -> None:
    response, app = world.last_response(), _paypal_app(world)
    integration = response.json()["integration"]
    assert (integration["integrationType"], integration["hasApiKey"], integration["hasApiSecret"]) == (
        "PAYPAL",
        True,
        True,
    ), f"expected a PAYPAL integration holding a key and a secret: {integration}"
    leaked = [
        label
        for label, value in (("client id", app.client_id), ("secret", app.client_secret))
        if value in response.text
    ]
    assert not leaked, f"the answer to POST /api/integrations shows the REST app's {' and '.join(leaked)}"


def _app_grants(world: World) -> list[dict[str, Any]]:
    grants = world.sandbox().get("/tokens", params={"provider": "paypal"}).json()
    return [grant for grant in grants if grant["client_id"] == _paypal_app(world).client_id]


@then("PayPal issued an access token to the REST app")
def paypal_token_issued(world: World) -> None:
    tokens = [token for grant in _app_grants(world) for token in grant["access_tokens"] if not token["revoked"]]
    assert tokens, "PayPal issued no access token to the REST app: the client-credentials flow did not run"


@when(parsers.re(rf"{NAME} tests the connection of the PayPal integration$"))
def paypal_test_connection(world: World, name: str) -> None:
    world.response = _user(world, name).client.post(f"/api/integrations/{_integration(world)}/test")


@then(parsers.re(rf"{NAME} has no PayPal integration$"))
def paypal_none_connected(world: World, name: str) -> None:
    listed = _expect(_user(world, name).client.get("/api/integrations"), 200, "the integrations")["integrations"]
    paypal = [row for row in listed if row["integrationType"] == "PAYPAL"]
    assert not paypal, f"a refused REST app was still connected: {paypal}"


@given(parsers.re(rf'{NAME} has created a PayPal payment of "(?P<amount>[\d.]+)" USD$'))
@when(parsers.re(rf'{NAME} creates a PayPal payment of "(?P<amount>[\d.]+)" USD(?: on the live-mode service)?$'))
def paypal_create_payment(world: World, name: str, amount: str) -> None:
    world.response = _user(world, name).client.post(
        "/api/integrations/paypal/payments",
        json={"integrationId": _integration(world), "amount": amount, "currency": "USD", **RETURN_URLS},
    )
    if world.response.status_code == 201:
        body = world.response.json()
        world.facts["paypal_payment_id"] = body["payment"]["paypalPaymentId"]
        world.facts["paypal_approval_url"] = body["approvalUrl"]


@then("the answer holds an approval link to PayPal's checkout")
def paypal_approval_link(world: World) -> None:
    link = urlsplit(world.last_response().json()["approvalUrl"])
    sandbox = urlsplit(_need_sandbox_url(world.target))
    seen = (link.netloc, link.path, "token" in parse_qs(link.query))
    assert seen == (sandbox.netloc, "/paypal/checkoutnow", True), (
        f"expected a link to PayPal's checkout with the payment's token, got {link.geturl()}"
    )


@then(parsers.re(r'PayPal holds the payment as "(?P<state>\w+)" for "(?P<amount>[\d.]+)" (?P<currency>[A-Z]{3})$'))
def paypal_holds_payment(world: World, state: str, amount: str, currency: str) -> None:
    payment = _paypal_get(world, f"/v1/payments/payment/{_object_id(world, 'paypal_payment_id')}")
    money = payment["transactions"][0]["amount"]
    seen = (payment["state"], Decimal(money["total"]), money["currency"])
    assert seen == (state, Decimal(amount), currency), f"PayPal holds {seen}"


def _approve(url: str, payer: str | None = None) -> dict[str, str]:
    """Follow an approval link as the buyer's browser would; the return URL's parameters."""
    answer = httpx.get(f"{url}&sandbox_payer={payer}" if payer else url, timeout=HTTP_TIMEOUT_S)
    assert answer.status_code == 302, f"the buyer's approval: {describe(answer)}"
    return {key: values[0] for key, values in parse_qs(urlsplit(answer.headers["location"]).query).items()}


@given("the buyer approved the PayPal payment")
def paypal_buyer_approved(world: World) -> None:
    world.facts["paypal_payer_id"] = _approve(_object_id(world, "paypal_approval_url"))["PayerID"]


@when(parsers.re(rf"{NAME} executes the PayPal payment for (?P<buyer>the buyer|a buyer who never approved it)$"))
def paypal_execute(world: World, name: str, buyer: str) -> None:
    payer = world.facts["paypal_payer_id"] if buyer == "the buyer" else UNAPPROVED_PAYER
    world.response = _user(world, name).client.post(
        f"/api/integrations/paypal/payments/{_object_id(world, 'paypal_payment_id')}/execute",
        json={"integrationId": _integration(world), "payerId": payer},
    )


@then(parsers.re(r'PayPal holds the payment\'s sale as "(?P<state>\w+)"$'))
def paypal_holds_sale(world: World, state: str) -> None:
    payment = _paypal_get(world, f"/v1/payments/payment/{_object_id(world, 'paypal_payment_id')}")
    sale = payment["transactions"][0]["related_resources"][0]["sale"]
    assert sale["state"] == state, f"PayPal holds the sale as {sale['state']}"


@then(parsers.re(rf"the PayPal (?P<record>payment|subscription) of {NAME} shows (?P<expected>.+)$"))
@given(parsers.re(rf"the PayPal (?P<record>payment|subscription) of {NAME} shows (?P<expected>.+)$"))
def paypal_record_shows(world: World, record: str, name: str, expected: str) -> None:
    _check_record(_stored(world, name, "paypal", record), expected, f"{name}'s PayPal {record}")


@when(
    parsers.re(rf'{NAME} creates an? (?P<inactive>inactive )?PayPal billing plan at "(?P<amount>[\d.]+)" USD a month$')
)
def paypal_create_plan(world: World, name: str, inactive: str | None, amount: str) -> None:
    world.response = _user(world, name).client.post(
        "/api/integrations/paypal/plans",
        json={
            "integrationId": _integration(world),
            "productId": f"PROD-QA-{uuid.uuid4().hex[:8]}",
            "name": "CRM seat",
            "amount": amount,
            "currency": "USD",
            "intervalUnit": "MONTH",
            "activate": not inactive,
        },
    )
    if world.response.status_code == 201:
        world.facts["paypal_plan_id"] = world.response.json()["plan"]["id"]


@when(parsers.re(rf"{NAME} activates the PayPal billing plan$"))
def paypal_activate_plan(world: World, name: str) -> None:
    world.response = _user(world, name).client.post(
        f"/api/integrations/paypal/plans/{_object_id(world, 'paypal_plan_id')}/activate",
        json={"integrationId": _integration(world)},
    )


@then(parsers.re(r'PayPal holds the billing plan as "(?P<status>\w+)" at "(?P<amount>[\d.]+)" USD a month$'))
def paypal_holds_plan(world: World, status: str, amount: str) -> None:
    plan = _paypal_get(world, f"/v1/billing/plans/{_object_id(world, 'paypal_plan_id')}")
    cycle = plan["billing_cycles"][0]
    price = cycle["pricing_scheme"]["fixed_price"]
    seen = (plan["status"], Decimal(price["value"]), price["currency_code"], cycle["frequency"]["interval_unit"])
    assert seen == (status, Decimal(amount), "USD", "MONTH"), f"PayPal holds the plan as {seen}"


@when(parsers.re(rf'{NAME} subscribes "(?P<email>[^"]+)" to the PayPal billing plan$'))
def paypal_subscribe(world: World, name: str, email: str) -> None:
    world.response = _user(world, name).client.post(
        "/api/integrations/paypal/subscriptions",
        json={
            "integrationId": _integration(world),
            "planId": _object_id(world, "paypal_plan_id"),
            "subscriberEmail": email,
            **RETURN_URLS,
        },
    )
    if world.response.status_code == 201:
        body = world.response.json()
        world.facts["paypal_subscription_id"] = body["subscription"]["paypalSubscriptionId"]
        world.facts["paypal_approval_url"] = body["approvalUrl"]


# --- PayPal: what happened at PayPal before its event arrives -------------------------------------------------


@given(
    parsers.re(
        rf'{NAME} created a PayPal payment of "(?P<amount>[\d.]+)" USD, and (?P<how>the buyer approved it and paid'
        r"|PayPal denied the buyer's payment when it was executed) at PayPal$"
    )
)
def paypal_paid_at_paypal(world: World, name: str, amount: str, how: str) -> None:
    paypal_create_payment(world, name, amount)
    _expect(world.last_response(), 201, "creating a PayPal payment")
    payer = _approve(_object_id(world, "paypal_approval_url"), None if how.startswith("the buyer") else DENIED_PAYER)
    payment_id = _object_id(world, "paypal_payment_id")
    executed = _paypal_merchant(world).post(
        f"/v1/payments/payment/{payment_id}/execute", json={"payer_id": payer["PayerID"]}
    )
    sale = _expect(executed, 200, "executing the payment at PayPal")["transactions"][0]["related_resources"][0]
    world.facts["paypal_sale_id"] = sale["sale"]["id"]


@given(
    parsers.re(
        rf'{NAME} subscribed "(?P<email>[^"]+)" to a new PayPal billing plan'
        r"(?P<cancelled>, and the subscriber approved it and cancelled it at PayPal)?$"
    )
)
def paypal_subscribed(world: World, name: str, email: str, cancelled: str | None) -> None:
    paypal_create_plan(world, name, None, "9.99")
    _expect(world.last_response(), 201, "creating a PayPal billing plan")
    paypal_subscribe(world, name, email)
    _expect(world.last_response(), 201, "subscribing to the plan")
    if cancelled:
        _approve(_object_id(world, "paypal_approval_url"))
        subscription = _object_id(world, "paypal_subscription_id")
        answer = _paypal_merchant(world).post(
            f"/v1/billing/subscriptions/{subscription}/cancel", json={"reason": "Not needed any more"}
        )
        assert answer.status_code == 204, f"cancelling at PayPal: {describe(answer)}"


@given(parsers.re(r'the merchant subscribed "(?P<email>[^"]+)" to a billing plan directly at PayPal$'))
def paypal_subscribed_outside(world: World, email: str) -> None:
    merchant = _paypal_merchant(world)
    plan = _expect(
        merchant.post(
            "/v1/billing/plans",
            json={
                "product_id": f"PROD-QA-{uuid.uuid4().hex[:8]}",
                "name": "Outside the CRM",
                "billing_cycles": [
                    {
                        "frequency": {"interval_unit": "MONTH", "interval_count": 1},
                        "tenure_type": "REGULAR",
                        "sequence": 1,
                        "total_cycles": 0,
                        "pricing_scheme": {"fixed_price": {"value": "5.00", "currency_code": "USD"}},
                    }
                ],
                "payment_preferences": {"auto_bill_outstanding": True},
            },
        ),
        201,
        "a plan made at PayPal",
    )
    subscription = merchant.post(
        "/v1/billing/subscriptions", json={"plan_id": plan["id"], "subscriber": {"email_address": email}}
    )
    world.facts["paypal_subscription_id"] = _expect(subscription, 201, "a subscription made at PayPal")["id"]


@then(parsers.re(rf"{NAME} has no PayPal subscriptions$"))
def paypal_no_subscriptions(world: World, name: str) -> None:
    listed = _expect(_user(world, name).client.get("/api/integrations/paypal/subscriptions"), 200, "subscriptions")
    assert listed["total"] == 0, f"expected no PayPal subscriptions for {name}: {listed['subscriptions']}"


# --- PayPal webhooks ---------------------------------------------------------------------------------------


def _receiver(world: World) -> OtherService:
    service: OtherService | None = world.facts.get("service")
    assert service is not None, "this step needs the PayPal receiver service"
    assert service.paypal_webhook_id, "this service has no PayPal webhook of its own"
    return service


def _paypal_event(world: World, event_type: str, record: str) -> str:
    keys = ("paypal_sale_id", "paypal_payment_id") if record == "payment" else ("paypal_subscription_id",)
    about = {str(world.facts[key]) for key in keys if world.facts.get(key)}
    found = [
        event["id"]
        for event in world.sandbox().get("/paypal/events", params={"type": event_type}).json()
        if about & {event["resource"].get(key) for key in ("id", "sale_id", "parent_payment")}
    ]
    assert len(found) == 1, f"expected one {event_type} event from PayPal about {sorted(about)}, found {found}"
    world.facts["event_id"] = found[0]
    return str(found[0])


@when(
    parsers.re(
        r"PayPal delivers its (?P<event>[A-Z_.]+) event about the (?P<record>payment|subscription) to the webhook$"
    )
)
def paypal_delivers(world: World, event: str, record: str) -> None:
    _deliver(world, "paypal", _receiver(world).paypal_webhook_id, _paypal_event(world, event, record))


@when(parsers.re(r"PayPal delivers the same event (?:again|genuinely signed)$"))
def paypal_delivers_again(world: World) -> None:
    _deliver(world, "paypal", _receiver(world).paypal_webhook_id, _object_id(world, "event_id"))


@when(parsers.re(r"PayPal's (?P<event>[A-Z_.]+) event reaches the webhook (?P<how>.+)$"))
def paypal_delivers_forged(world: World, event: str, how: str, request: pytest.FixtureRequest) -> None:
    receiver = _receiver(world)
    event_id = _paypal_event(world, event, "payment")
    if how == "without any PayPal signature headers":
        [body] = [
            e for e in world.sandbox().get("/paypal/events", params={"type": event}).json() if e["id"] == event_id
        ]
        world.response = world.client(base_url=receiver.url).post("/api/integrations/paypal/webhook", json=body)
    elif how == "signed for another webhook":
        other = _expect(
            world.sandbox().post(
                "/paypal/webhooks",
                json={"url": f"{receiver.url}/api/integrations/paypal/webhook", "enabled_events": [NEVER_SENT]},
            ),
            201,
            "another PayPal webhook",
        )
        sandbox_url = _need_sandbox_url(world.target)
        request.addfinalizer(lambda: httpx.delete(f"{sandbox_url}/_sandbox/paypal/webhooks/{other['webhook_id']}"))
        _deliver(world, "paypal", other["webhook_id"], event_id)
    else:
        assert how in PAYPAL_VARIANTS, f"unknown way to sign a PayPal event: {how!r}"
        _deliver(world, "paypal", receiver.paypal_webhook_id, event_id, PAYPAL_VARIANTS[how])


# --- PayPal modes: sandbox and live --------------------------------------------------------------------------


def _calls_with_app_token(world: World) -> list[tuple[str, str]]:
    """(method, path) of every PayPal API call the sandbox saw with an access token of the scenario's app."""
    hints = {token["hint"] for grant in _app_grants(world) for token in grant["access_tokens"]}
    assert hints, "PayPal never issued the REST app a token: no token request reached it"
    seen = world.sandbox().get("/requests", params={"provider": "paypal"}).json()
    return [
        (call["method"], call["path"])
        for call in seen
        if call["headers"].get("authorization", "").removeprefix("Bearer ") in hints
    ]


def _expect_calls(world: World, expected: list[tuple[str, str]]) -> None:
    calls = _calls_with_app_token(world)
    missing = [call for call in expected if call not in calls]
    assert not missing, f"PayPal never received {missing} with the REST app's token; it received {calls}"


@then("PayPal's sandbox received the service's token request, payment and execution with the REST app's token")
def paypal_sandbox_calls(world: World) -> None:
    payment = _object_id(world, "paypal_payment_id")
    _expect_calls(
        world, [("POST", "/paypal/v1/payments/payment"), ("POST", f"/paypal/v1/payments/payment/{payment}/execute")]
    )


@then("PayPal received the live-mode service's token request and payment with the REST app's token")
def paypal_live_calls(world: World) -> None:
    _expect_calls(world, [("POST", "/paypal/v1/payments/payment")])


# --- the other copies of the service, started once per run when a scenario first needs them ----------------


def _other_service(
    target: ScenarioTarget, env: dict[str, str], database_url: str, webhook_id: str, port: int
) -> Iterator[OtherService]:
    process = service_process(database_url, target.run_dir, port=port, env={**LOCAL_SERVICE_ENV, **env}).start()
    try:
        yield OtherService(process.url, database_url, webhook_id)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def paypal_receiver(target: ScenarioTarget) -> Iterator[OtherService]:
    """The service again, with a database of its own and a PayPal webhook that only gets what is delivered."""
    sandbox_url = _need_sandbox_url(target)
    assert target.database_url is not None
    name = f"qa_paypal_receiver_{uuid.uuid4().hex[:8]}"
    database_url = create_database(target.database_url, name)
    port = free_port()
    registered = httpx.post(
        f"{sandbox_url}/_sandbox/paypal/webhooks",
        json={"url": f"http://127.0.0.1:{port}/api/integrations/paypal/webhook", "enabled_events": [NEVER_SENT]},
        timeout=HTTP_TIMEOUT_S,
    )
    registered.raise_for_status()
    webhook_id = registered.json()["webhook_id"]
    try:
        run_alembic(Target(stage="local", database_url=database_url), "upgrade")
        env = {**sandbox_service_env(sandbox_url), "PAYPAL_WEBHOOK_ID": webhook_id}
        yield from _other_service(target, env, database_url, webhook_id, port)
    finally:
        httpx.delete(f"{sandbox_url}/_sandbox/paypal/webhooks/{webhook_id}", timeout=HTTP_TIMEOUT_S)
        drop_database(target.database_url, name)


@pytest.fixture(scope="session")
def paypal_live_service(target: ScenarioTarget) -> Iterator[OtherService]:
    """The service in PAYPAL_MODE=live on the stage's database: live base URL = the simulator, sandbox
    base URL = a port nothing listens on, so only a call to the live base URL can succeed."""
    sandbox_url = _need_sandbox_url(target)
    assert target.database_url is not None
    env = {
        **sandbox_service_env(sandbox_url),
        "PAYPAL_MODE": "live",
        "PAYPAL_LIVE_BASE_URL": f"{sandbox_url}/paypal",
        "PAYPAL_SANDBOX_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "PAYPAL_WEBHOOK_ID": target.paypal_webhook_id or "WH-QA-LIVE",
    }
    yield from _other_service(target, env, target.database_url, "", free_port())


@given("a CRM whose PayPal webhook receives only the events PayPal is asked to deliver")
def paypal_use_receiver(world: World, paypal_receiver: OtherService) -> None:
    world.facts["service"] = paypal_receiver


@given(
    "a copy of the service in PAYPAL_MODE live, whose live base URL is the PayPal simulator and whose sandbox "
    "base URL answers nothing"
)
def paypal_use_live_service(world: World, paypal_live_service: OtherService) -> None:
    world.facts["service"] = paypal_live_service
