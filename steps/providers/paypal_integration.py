"""Steps of the PayPal scenarios (PAYPAL-01..PAYPAL-07) against the provider sandbox, and their webhooks.

Every scenario makes its own PayPal REST app at the sandbox, so the objects, events, token grants and
requests it looks at are its own. What PayPal holds is read straight from the sandbox's PayPal API with
the app's own credentials ("the merchant"), never through the service.

PayPal's events are signed by the sandbox with its certificate. PayPal signs for one webhook id and the
stage's own PayPal webhook receives every event in the background, so PayPal webhook scenarios use a second
copy of the service (`paypal_receiver`), with its own database, whose webhook gets only what a scenario
delivers (steps/providers/paypal_webhooks.py). The steps on the webhook's answers, shared with Stripe, are in
steps/support/payments.py.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pytest_bdd import given, parsers, then, when

from steps.common import World, describe
from steps.support.payments import (
    NAME,
    PaymentObjects,
    PayPalApp,
    check_record,
    expect,
    need_sandbox_url,
    payment_integration_id,
    scenario_user,
    stored_record,
)

RETURN_URLS = {"returnUrl": "https://crm.example/paypal/return", "cancelUrl": "https://crm.example/paypal/cancel"}
DENIED_PAYER = "DENYPAYER2345"  # the PayPal sandbox's buyer whose payments are denied
UNAPPROVED_PAYER = "QAPAYERNEVERAPPROVED"


def _paypal_app(world: World, payments: PaymentObjects) -> PayPalApp:
    app: PayPalApp | None = payments.paypal_app
    assert app is not None, "no PayPal REST app was made in this scenario"
    return app


def _paypal_merchant(world: World, payments: PaymentObjects) -> httpx.Client:
    """The REST app's own access to the PayPal API (the sandbox), not through the service."""
    app = _paypal_app(world, payments)
    if app.merchant is None:
        merchant = world.client(base_url=f"{need_sandbox_url(world.target)}/paypal")
        basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
        token = merchant.post(
            "/v1/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        )
        merchant.headers["Authorization"] = f"Bearer {expect(token, 200, 'a PayPal token')['access_token']}"
        app.merchant = merchant
    return app.merchant


def _paypal_get(world: World, payments: PaymentObjects, path: str) -> dict[str, Any]:
    return expect(_paypal_merchant(world, payments).get(path), 200, f"PayPal GET {path}")


@given("a new PayPal REST app")
def paypal_new_app(world: World, payments: PaymentObjects) -> None:
    need_sandbox_url(world.target)
    app = PayPalApp(f"qa-paypal-{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(24))
    registered = world.sandbox().post(
        "/clients", json={"provider": "paypal", "client_id": app.client_id, "client_secret": app.client_secret}
    )
    expect(registered, 201, "registering a PayPal REST app")
    payments.paypal_app = app


@when(
    parsers.re(
        rf"{NAME} connects PayPal(?: on the live-mode service)? with the REST app's client id "
        r"and (?P<which>secret|a wrong secret)$"
    )
)
def paypal_connect(world: World, payments: PaymentObjects, name: str, which: str) -> None:
    app = _paypal_app(world, payments)
    world.response = scenario_user(world, payments, name).client.post(
        "/api/integrations",
        json={
            "integrationType": "PAYPAL",
            "integrationName": f"paypal-{uuid.uuid4().hex[:6]}",
            "apiKey": app.client_id,
            "apiSecret": app.client_secret if which == "secret" else f"wrong-{app.client_secret}",
        },
    )
    if world.response.status_code == 201:
        payments.integration_id = world.response.json()["integration"]["id"]
        payments.owner = name


@given(parsers.re(rf"{NAME} has connected a new PayPal REST app$"))
def paypal_connected(world: World, payments: PaymentObjects, name: str) -> None:
    paypal_new_app(world, payments)
    paypal_connect(world, payments, name, "secret")
    expect(world.last_response(), 201, "connecting PayPal")


@then("the answer shows the PayPal integration without its client id or secret")
def paypal_no_credentials(world: World, payments: PaymentObjects) -> None:
    response, app = world.last_response(), _paypal_app(world, payments)
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


def _app_grants(world: World, payments: PaymentObjects) -> list[dict[str, Any]]:
    grants = world.sandbox().get("/tokens", params={"provider": "paypal"}).json()
    return [grant for grant in grants if grant["client_id"] == _paypal_app(world, payments).client_id]


@then("PayPal issued an access token to the REST app")
def paypal_token_issued(world: World, payments: PaymentObjects) -> None:
    tokens = [
        token for grant in _app_grants(world, payments) for token in grant["access_tokens"] if not token["revoked"]
    ]
    assert tokens, "PayPal issued no access token to the REST app: the client-credentials flow did not run"


@when(parsers.re(rf"{NAME} tests the connection of the PayPal integration$"))
def paypal_test_connection(world: World, payments: PaymentObjects, name: str) -> None:
    world.response = scenario_user(world, payments, name).client.post(
        f"/api/integrations/{payment_integration_id(payments)}/test"
    )


@then(parsers.re(rf"{NAME} has no PayPal integration$"))
def paypal_none_connected(world: World, payments: PaymentObjects, name: str) -> None:
    listed = expect(scenario_user(world, payments, name).client.get("/api/integrations"), 200, "the integrations")[
        "integrations"
    ]
    paypal = [row for row in listed if row["integrationType"] == "PAYPAL"]
    assert not paypal, f"a refused REST app was still connected: {paypal}"


@given(parsers.re(rf'{NAME} has created a PayPal payment of "(?P<amount>[\d.]+)" USD$'))
@when(parsers.re(rf'{NAME} creates a PayPal payment of "(?P<amount>[\d.]+)" USD(?: on the live-mode service)?$'))
def paypal_create_payment(world: World, payments: PaymentObjects, name: str, amount: str) -> None:
    world.response = scenario_user(world, payments, name).client.post(
        "/api/integrations/paypal/payments",
        json={"integrationId": payment_integration_id(payments), "amount": amount, "currency": "USD", **RETURN_URLS},
    )
    if world.response.status_code == 201:
        body = world.response.json()
        payments.paypal_payment_id = body["payment"]["paypalPaymentId"]
        payments.paypal_approval_url = body["approvalUrl"]


@then("the answer holds an approval link to PayPal's checkout")
def paypal_approval_link(world: World) -> None:
    link = urlsplit(world.last_response().json()["approvalUrl"])
    sandbox = urlsplit(need_sandbox_url(world.target))
    seen = (link.netloc, link.path, "token" in parse_qs(link.query))
    assert seen == (sandbox.netloc, "/paypal/checkoutnow", True), (
        f"expected a link to PayPal's checkout with the payment's token, got {link.geturl()}"
    )


@then(parsers.re(r'PayPal holds the payment as "(?P<state>\w+)" for "(?P<amount>[\d.]+)" (?P<currency>[A-Z]{3})$'))
def paypal_holds_payment(world: World, payments: PaymentObjects, state: str, amount: str, currency: str) -> None:
    payment = _paypal_get(world, payments, f"/v1/payments/payment/{payments.need('paypal_payment_id')}")
    money = payment["transactions"][0]["amount"]
    seen = (payment["state"], Decimal(money["total"]), money["currency"])
    assert seen == (state, Decimal(amount), currency), f"PayPal holds {seen}"


def _approve(world: World, url: str, payer: str | None = None) -> dict[str, str]:
    """Follow an approval link as the buyer's browser would; the return URL's parameters."""
    answer = world.client(base_url="").get(f"{url}&sandbox_payer={payer}" if payer else url)
    assert answer.status_code == 302, f"the buyer's approval: {describe(answer)}"
    return {key: values[0] for key, values in parse_qs(urlsplit(answer.headers["location"]).query).items()}


@given("the buyer approved the PayPal payment")
def paypal_buyer_approved(world: World, payments: PaymentObjects) -> None:
    payments.paypal_payer_id = _approve(world, payments.need("paypal_approval_url"))["PayerID"]


@when(parsers.re(rf"{NAME} executes the PayPal payment for (?P<buyer>the buyer|a buyer who never approved it)$"))
def paypal_execute(world: World, payments: PaymentObjects, name: str, buyer: str) -> None:
    payer = payments.need("paypal_payer_id") if buyer == "the buyer" else UNAPPROVED_PAYER
    world.response = scenario_user(world, payments, name).client.post(
        f"/api/integrations/paypal/payments/{payments.need('paypal_payment_id')}/execute",
        json={"integrationId": payment_integration_id(payments), "payerId": payer},
    )


@then(parsers.re(r'PayPal holds the payment\'s sale as "(?P<state>\w+)"$'))
def paypal_holds_sale(world: World, payments: PaymentObjects, state: str) -> None:
    payment = _paypal_get(world, payments, f"/v1/payments/payment/{payments.need('paypal_payment_id')}")
    sale = payment["transactions"][0]["related_resources"][0]["sale"]
    assert sale["state"] == state, f"PayPal holds the sale as {sale['state']}"


@then(parsers.re(rf"the PayPal (?P<record>payment|subscription|order) of {NAME} shows (?P<expected>.+)$"))
@given(parsers.re(rf"the PayPal (?P<record>payment|subscription|order) of {NAME} shows (?P<expected>.+)$"))
def paypal_record_shows(world: World, payments: PaymentObjects, record: str, name: str, expected: str) -> None:
    check_record(stored_record(world, payments, name, "paypal", record), expected, f"{name}'s PayPal {record}")


@when(
    parsers.re(rf'{NAME} creates an? (?P<inactive>inactive )?PayPal billing plan at "(?P<amount>[\d.]+)" USD a month$')
)
def paypal_create_plan(world: World, payments: PaymentObjects, name: str, inactive: str | None, amount: str) -> None:
    world.response = scenario_user(world, payments, name).client.post(
        "/api/integrations/paypal/plans",
        json={
            "integrationId": payment_integration_id(payments),
            "productId": f"PROD-QA-{uuid.uuid4().hex[:8]}",
            "name": "CRM seat",
            "amount": amount,
            "currency": "USD",
            "intervalUnit": "MONTH",
            "activate": not inactive,
        },
    )
    if world.response.status_code == 201:
        payments.paypal_plan_id = world.response.json()["plan"]["id"]


@when(parsers.re(rf"{NAME} activates the PayPal billing plan$"))
def paypal_activate_plan(world: World, payments: PaymentObjects, name: str) -> None:
    world.response = scenario_user(world, payments, name).client.post(
        f"/api/integrations/paypal/plans/{payments.need('paypal_plan_id')}/activate",
        json={"integrationId": payment_integration_id(payments)},
    )


@then(parsers.re(r'PayPal holds the billing plan as "(?P<status>\w+)" at "(?P<amount>[\d.]+)" USD a month$'))
def paypal_holds_plan(world: World, payments: PaymentObjects, status: str, amount: str) -> None:
    plan = _paypal_get(world, payments, f"/v1/billing/plans/{payments.need('paypal_plan_id')}")
    cycle = plan["billing_cycles"][0]
    price = cycle["pricing_scheme"]["fixed_price"]
    seen = (plan["status"], Decimal(price["value"]), price["currency_code"], cycle["frequency"]["interval_unit"])
    assert seen == (status, Decimal(amount), "USD", "MONTH"), f"PayPal holds the plan as {seen}"


@when(parsers.re(rf'{NAME} subscribes "(?P<email>[^"]+)" to the PayPal billing plan$'))
def paypal_subscribe(world: World, payments: PaymentObjects, name: str, email: str) -> None:
    world.response = scenario_user(world, payments, name).client.post(
        "/api/integrations/paypal/subscriptions",
        json={
            "integrationId": payment_integration_id(payments),
            "planId": payments.need("paypal_plan_id"),
            "subscriberEmail": email,
            **RETURN_URLS,
        },
    )
    if world.response.status_code == 201:
        body = world.response.json()
        payments.paypal_subscription_id = body["subscription"]["paypalSubscriptionId"]
        payments.paypal_approval_url = body["approvalUrl"]


def settle_live_deliveries(world: World, payments: PaymentObjects) -> None:
    """On the stage's own webhook (no receiver copy of the service), wait until PayPal's live deliveries
    (and their retries) are done, so that each change at PayPal has been taken before the next is made."""
    if payments.service is None:
        expect(world.sandbox().post("/paypal/webhooks/drain"), 200, "PayPal finishing its live deliveries")


# --- PayPal: what happened at PayPal before its event arrives -------------------------------------------------


@given(
    parsers.re(
        rf'{NAME} created a PayPal payment of "(?P<amount>[\d.]+)" USD, and (?P<how>the buyer approved it and paid'
        r"|PayPal denied the buyer's payment when it was executed) at PayPal$"
    )
)
def paypal_paid_at_paypal(world: World, payments: PaymentObjects, name: str, amount: str, how: str) -> None:
    paypal_create_payment(world, payments, name, amount)
    expect(world.last_response(), 201, "creating a PayPal payment")
    payer = _approve(world, payments.need("paypal_approval_url"), None if how.startswith("the buyer") else DENIED_PAYER)
    payment_id = payments.need("paypal_payment_id")
    executed = _paypal_merchant(world, payments).post(
        f"/v1/payments/payment/{payment_id}/execute", json={"payer_id": payer["PayerID"]}
    )
    sale = expect(executed, 200, "executing the payment at PayPal")["transactions"][0]["related_resources"][0]
    payments.paypal_sale_id = sale["sale"]["id"]


@given(
    parsers.re(
        rf'{NAME} subscribed "(?P<email>[^"]+)" to a new PayPal billing plan'
        r"(?P<cancelled>, and the subscriber approved it and cancelled it at PayPal)?$"
    )
)
def paypal_subscribed(world: World, payments: PaymentObjects, name: str, email: str, cancelled: str | None) -> None:
    paypal_create_plan(world, payments, name, None, "9.99")
    expect(world.last_response(), 201, "creating a PayPal billing plan")
    paypal_subscribe(world, payments, name, email)
    expect(world.last_response(), 201, "subscribing to the plan")
    if cancelled:
        _approve(world, payments.need("paypal_approval_url"))
        settle_live_deliveries(world, payments)  # the activation is taken before the cancellation
        subscription = payments.need("paypal_subscription_id")
        answer = _paypal_merchant(world, payments).post(
            f"/v1/billing/subscriptions/{subscription}/cancel", json={"reason": "Not needed any more"}
        )
        assert answer.status_code == 204, f"cancelling at PayPal: {describe(answer)}"


@given(parsers.re(r'the merchant subscribed "(?P<email>[^"]+)" to a billing plan directly at PayPal$'))
def paypal_subscribed_outside(world: World, payments: PaymentObjects, email: str) -> None:
    merchant = _paypal_merchant(world, payments)
    plan = expect(
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
    payments.paypal_subscription_id = expect(subscription, 201, "a subscription made at PayPal")["id"]


@then(parsers.re(rf"{NAME} has no PayPal subscriptions$"))
def paypal_no_subscriptions(world: World, payments: PaymentObjects, name: str) -> None:
    listed = expect(
        scenario_user(world, payments, name).client.get("/api/integrations/paypal/subscriptions"), 200, "subscriptions"
    )
    assert listed["total"] == 0, f"expected no PayPal subscriptions for {name}: {listed['subscriptions']}"
