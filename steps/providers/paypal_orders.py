"""Steps of the PayPal checkout order scenarios (Orders v2, under PAYPAL-02/03): an order created through
the service, approved by the buyer at PayPal's checkout, captured through the service. What PayPal holds is
read with the REST app's own credentials (steps/providers/paypal_integration.py's merchant)."""

from __future__ import annotations

from decimal import Decimal

from pytest_bdd import parsers, then, when

from steps.common import World
from steps.providers.paypal_integration import RETURN_URLS, _approve, _paypal_get
from steps.support.payments import NAME, PaymentObjects, payment_integration_id, scenario_user


@when(parsers.re(rf'{NAME} creates a PayPal checkout order of "(?P<amount>[\d.]+)" USD$'))
def paypal_create_order(world: World, payments: PaymentObjects, name: str, amount: str) -> None:
    world.response = scenario_user(world, payments, name).client.post(
        "/api/integrations/paypal/orders",
        json={"integrationId": payment_integration_id(payments), "amount": amount, "currency": "USD", **RETURN_URLS},
    )
    if world.response.status_code == 201:
        body = world.response.json()
        payments.paypal_order_id = body["order"]["paypalOrderId"]
        payments.paypal_approval_url = body["approvalUrl"]


@when("the buyer approves the PayPal checkout order")
def paypal_buyer_approves_order(world: World, payments: PaymentObjects) -> None:
    payments.paypal_payer_id = _approve(world, payments.need("paypal_approval_url"))["PayerID"]


@when(parsers.re(rf"{NAME} captures the PayPal checkout order$"))
def paypal_capture_order(world: World, payments: PaymentObjects, name: str) -> None:
    world.response = scenario_user(world, payments, name).client.post(
        f"/api/integrations/paypal/orders/{payments.need('paypal_order_id')}/capture",
        json={"integrationId": payment_integration_id(payments)},
    )


@then(parsers.re(r'PayPal holds the checkout order as "(?P<status>\w+)" for "(?P<amount>[\d.]+)" USD$'))
def paypal_holds_order(world: World, payments: PaymentObjects, status: str, amount: str) -> None:
    order = _paypal_get(world, payments, f"/v2/checkout/orders/{payments.need('paypal_order_id')}")
    money = order["purchase_units"][0]["amount"]
    captures = order["purchase_units"][0].get("payments", {}).get("captures", [])
    seen = (order["status"], Decimal(money["value"]), money["currency_code"])
    assert seen == (status, Decimal(amount), "USD"), f"PayPal holds the order as {seen}"
    assert len(captures) == (1 if status == "COMPLETED" else 0), f"PayPal holds the captures {captures}"
