"""What the Stripe and PayPal step modules share: the scenario's users (on the stage's service or on
another copy of it), the records the service stored, webhook deliveries by the sandbox, and the steps on
the payment webhook's answers, which both providers' scenarios use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import httpx
import pytest
import stripe
from pytest_bdd import parsers, then

from harness.gates.scenario_target import ScenarioTarget
from harness.stack.tokens import issue_token_on
from steps.common import NO_SANDBOX, ApiUser, World, describe

NAME = r'"(?P<name>[^"]+)"'
NEVER_SENT = "SANDBOX.NEVER.SENT"  # an event type no API call emits: an endpoint that only gets deliveries

# The ids a payment scenario keeps of what it made (at the provider or in the service) and of whom it acts for.
ObjectKind = Literal[
    "owner",
    "event_id",
    "stripe_charge_id",
    "stripe_subscription_id",
    "stripe_payment_intent",
    "stripe_customer",
    "stripe_price",
    "paypal_payment_id",
    "paypal_order_id",
    "paypal_approval_url",
    "paypal_payer_id",
    "paypal_plan_id",
    "paypal_subscription_id",
    "paypal_sale_id",
]

# (provider, record) -> the kind of the scenario's object id, and the id's field in the service's answer
RECORD_KEYS: dict[tuple[str, str], tuple[ObjectKind, str]] = {
    ("stripe", "payment"): ("stripe_charge_id", "stripeChargeId"),
    ("stripe", "subscription"): ("stripe_subscription_id", "stripeSubscriptionId"),
    ("paypal", "payment"): ("paypal_payment_id", "paypalPaymentId"),
    ("paypal", "subscription"): ("paypal_subscription_id", "paypalSubscriptionId"),
    ("paypal", "order"): ("paypal_order_id", "paypalOrderId"),
}


# --- the scenario's services, accounts and objects ----------------------------------------------------


@dataclass(frozen=True)
class OtherService:
    """A copy of the service a scenario talks to instead of the stage's (same code, other settings)."""

    url: str
    database_url: str
    paypal_webhook_id: str


@dataclass(frozen=True)
class StripeAccount:
    secret_key: str  # what the scenario's user connects the service with
    merchant: stripe.StripeClient
    endpoint_id: str | None = None  # the sandbox endpoint that delivers on demand; None in test mode


@dataclass
class PayPalApp:
    client_id: str
    client_secret: str
    merchant: httpx.Client | None = None  # the app's own access to the PayPal API, made on first use


@dataclass
class PaymentObjects:
    """What a payment scenario made and passes from step to step: the copy of the service it talks to (None:
    the stage's), the provider account or app, the connected integration and the ids of what it made."""

    service: OtherService | None = None
    stripe: StripeAccount | None = None
    paypal_app: PayPalApp | None = None
    integration_id: str | None = None
    owner: str | None = None  # the scenario's name of the user who connected the integration
    event_id: str | None = None  # the provider's event delivered last
    stripe_charge_id: str | None = None
    stripe_subscription_id: str | None = None
    stripe_payment_intent: str | None = None
    stripe_customer: str | None = None
    stripe_price: str | None = None
    paypal_payment_id: str | None = None
    paypal_order_id: str | None = None
    paypal_approval_url: str | None = None
    paypal_payer_id: str | None = None
    paypal_plan_id: str | None = None
    paypal_subscription_id: str | None = None
    paypal_sale_id: str | None = None

    def get(self, kind: ObjectKind) -> str | None:
        value: str | None = getattr(self, kind)
        return value

    def need(self, kind: ObjectKind) -> str:
        """The id of `kind`, which an earlier step must have made."""
        value = self.get(kind)
        assert value is not None, f"no {kind.replace('_', ' ')} was made in this scenario"
        return value

    def stripe_account(self) -> StripeAccount:
        assert self.stripe is not None, "no Stripe account was connected in this scenario"
        return self.stripe


@pytest.fixture
def payments() -> PaymentObjects:
    return PaymentObjects()


def need_sandbox_url(target: ScenarioTarget) -> str:
    if target.sandbox_url is None or target.database_url is None:
        pytest.fail(f"this scenario needs the stage's database and is not tagged @sandbox ({NO_SANDBOX})")
    return target.sandbox_url


def scenario_user(world: World, payments: PaymentObjects, name: str) -> ApiUser:
    """The user `name`, on the other service when the scenario uses one, else on the stage's."""
    other = payments.service
    if other is None or name in world.users:
        return world.user(name)
    account = f"qa-{name.lower()}-{uuid.uuid4().hex[:10]}"
    token = issue_token_on(other.database_url, "local", account, "checklist scenario")
    client = world.client(base_url=other.url, headers={"Authorization": f"Bearer {token}"})
    world.users[name] = ApiUser(name=name, account=account, token=token, client=client)
    return world.users[name]


def expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    assert response.status_code == status, f"{what}: expected {status}: {describe(response)}"
    body: dict[str, Any] = response.json()
    return body


def payment_integration_id(payments: PaymentObjects) -> str:
    integration_id = payments.integration_id
    assert integration_id is not None, "no payment integration was connected in this scenario"
    return integration_id


def field_pairs(expected: str) -> list[tuple[str, str]]:
    """`status succeeded, amountRefunded 0` as [(field, value), ...]."""
    pairs = []
    for part in expected.split(","):
        field, _, value = part.strip().partition(" ")
        pairs.append((field, value.strip()))
    return pairs


def same_value(actual: Any, expected: str) -> bool:
    if isinstance(actual, bool) or actual is None:
        return str(actual).lower() == expected.lower()
    try:
        return Decimal(str(actual)) == Decimal(expected)
    except InvalidOperation:
        return str(actual) == expected


def check_record(record: dict[str, Any], expected: str, what: str) -> None:
    wrong = {
        field: record.get(field) for field, value in field_pairs(expected) if not same_value(record.get(field), value)
    }
    assert not wrong, f"{what} should show {expected}, but shows {wrong}; the record: {record}"


def stored_record(world: World, payments: PaymentObjects, name: str, provider: str, record: str) -> dict[str, Any]:
    """The one record of the scenario's object (or, before its id is known, its integration's only one)."""
    collection = f"{record}s"
    answer = scenario_user(world, payments, name).client.get(
        f"/api/integrations/{provider}/{collection}",
        params={"integrationId": payment_integration_id(payments), "limit": 500},
    )
    rows: list[dict[str, Any]] = expect(answer, 200, f"{name}'s {provider} {collection}")[collection]
    fact, id_field = RECORD_KEYS[(provider, record)]
    wanted = payments.get(fact)
    found = [row for row in rows if wanted is None or row[id_field] == wanted]
    assert len(found) == 1, f"expected exactly one {provider} {record} {wanted or ''} of {name}, found {found}"
    return found[0]


def as_response(attempt: dict[str, Any]) -> httpx.Response:
    """A sandbox delivery attempt as the response the webhook gave, for the shared response steps."""
    if attempt["status_code"] is None:
        pytest.fail(f"the webhook delivery to {attempt['url']} failed: {attempt['error']}")
    request = httpx.Request("POST", attempt["url"])
    return httpx.Response(attempt["status_code"], content=attempt["response_body"].encode(), request=request)


def deliver_event(world: World, provider: str, endpoint_id: str, event_id: str, variant: str = "valid") -> None:
    answer = world.sandbox().post(
        f"/{provider}/webhooks/deliver",
        json={"endpoint_id": endpoint_id, "event_ids": [event_id], "variant": variant, "retry": False},
    )
    [attempt] = expect(answer, 200, f"the sandbox delivering {event_id}")["attempts"]
    world.response = as_response(attempt)


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
def webhook_log_entries(world: World, payments: PaymentObjects, count: str) -> None:
    answer = scenario_user(world, payments, payments.need("owner")).client.get(
        "/api/integrations/logs", params={"integrationId": payment_integration_id(payments), "syncType": "webhook"}
    )
    logs = expect(answer, 200, "the integration's logs")
    assert logs["total"] == int(count), f"expected {count} webhook log entries, found {logs['total']}: {logs['logs']}"
