"""PayPal orders over real HTTP: service → sandbox (Orders v2), checked in the sandbox and in paypal_orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.service import ApiUser
from tests.integration_service.paypal_helpers import SQL, URLS, Merchant, approve, merchant, paypal_integration
from tests.integration_service.paypal_order_helpers import ORDERS, capture, create_order, order_state

__all__ = ["merchant"]  # a fixture, used by name

pytestmark = pytest.mark.db


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


def test_an_order_is_created_approved_captured_and_stored(user: ApiUser, merchant: Merchant, sql: SQL) -> None:
    integration = paypal_integration(user)
    created = create_order(user, integration, "42.50", customId="deal-7", description="CRM deal 7")
    assert created.status_code == 201, created.text
    order = created.json()["order"]
    order_id = order["paypalOrderId"]
    assert (order["status"], order["amount"], order["intent"]) == ("PAYER_ACTION_REQUIRED", "42.5000", "CAPTURE")
    assert created.json()["approvalUrl"].endswith(f"checkoutnow?token={order_id}")
    unit = merchant.get(f"/v2/checkout/orders/{order_id}")["purchase_units"][0]
    assert (unit["custom_id"], unit["description"]) == ("deal-7", "CRM deal 7")

    early = capture(user, integration, order_id)
    assert early.status_code == 422, early.text
    assert "ORDER_NOT_APPROVED" in early.json()["error"]["message"]
    assert order_state(sql, integration, order_id)[0] == "PAYER_ACTION_REQUIRED"

    back = approve(created.json()["approvalUrl"])
    shown = user.client.get(f"{ORDERS}/{order_id}", params={"integrationId": integration})
    assert shown.status_code == 200, shown.text
    assert (shown.json()["order"]["status"], shown.json()["order"]["payerId"]) == ("APPROVED", back["PayerID"])

    captured = capture(user, integration, order_id)
    assert captured.status_code == 200, captured.text
    at_paypal = merchant.get(f"/v2/checkout/orders/{order_id}")
    [paypal_capture] = at_paypal["purchase_units"][0]["payments"]["captures"]
    assert (at_paypal["status"], captured.json()["order"]["captureId"]) == ("COMPLETED", paypal_capture["id"])
    assert order_state(sql, integration, order_id) == ("COMPLETED", paypal_capture["id"], 42.5)

    listed = user.client.get(ORDERS, params={"integrationId": integration, "status": "COMPLETED"}).json()
    assert [row["paypalOrderId"] for row in listed["orders"]] == [order_id]


def test_capturing_again_answers_the_captured_order_without_a_second_capture(user: ApiUser, merchant: Merchant) -> None:
    integration = paypal_integration(user)
    created = create_order(user, integration, "9.00")
    order_id = created.json()["order"]["paypalOrderId"]
    approve(created.json()["approvalUrl"])
    first, again = capture(user, integration, order_id), capture(user, integration, order_id)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["order"]["captureId"] == first.json()["order"]["captureId"]
    assert len(merchant.get(f"/v2/checkout/orders/{order_id}")["purchase_units"][0]["payments"]["captures"]) == 1


def test_another_users_integration_is_not_found_and_their_orders_invisible(
    make_user: Callable[[], ApiUser], sql: SQL
) -> None:
    owner, stranger = make_user(), make_user()
    integration = paypal_integration(owner)
    order_id = create_order(owner, integration).json()["order"]["paypalOrderId"]
    attempts = [
        create_order(stranger, integration),
        stranger.client.get(f"{ORDERS}/{order_id}", params={"integrationId": integration}),
        capture(stranger, integration, order_id),
    ]
    assert [(a.status_code, a.json()["error"]["code"]) for a in attempts] == [(404, "not_found")] * 3
    assert stranger.client.get(ORDERS).json()["total"] == 0
    count = sql.execute("SELECT count(*) FROM paypal_orders WHERE integration_id = %s", [integration]).fetchone()
    assert count is not None
    assert count[0] == 1


def test_an_order_paypal_does_not_know_is_a_404(user: ApiUser) -> None:
    integration = paypal_integration(user)
    answer = user.client.get(f"{ORDERS}/NOSUCHORDER12345", params={"integrationId": integration})
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
    assert "RESOURCE_NOT_FOUND" in answer.json()["error"]["message"]


@pytest.mark.parametrize(("status", "expected"), [(500, 503), (503, 503), (400, 422)])
def test_paypal_failing_is_a_json_error_and_stores_nothing(
    user: ApiUser, sandbox_control: httpx.Client, sql: SQL, status: int, expected: int
) -> None:
    integration = paypal_integration(user)
    rule = {"provider": "paypal", "kind": "error", "status": status, "path": "/v2/checkout/orders", "times": None}
    sandbox_control.post("/faults", json=rule).raise_for_status()
    answer = create_order(user, integration)
    assert answer.status_code == expected, answer.text
    assert answer.json()["error"]["message"]
    count = sql.execute("SELECT count(*) FROM paypal_orders WHERE integration_id = %s", [integration]).fetchone()
    assert count is not None
    assert count[0] == 0


@pytest.mark.parametrize("currency", ["JPY", "HUF", "TWD"])
def test_an_order_in_a_currency_without_minor_units_is_sent_as_a_whole_amount(
    user: ApiUser, merchant: Merchant, currency: str
) -> None:
    """PayPal refuses "1000.00" in a zero-decimal currency (DECIMAL_PRECISION): every such order failed."""
    body = {"integrationId": paypal_integration(user), "amount": "1000", "currency": currency, **URLS}
    answer = user.client.post(ORDERS, json=body)
    assert answer.status_code == 201, answer.text
    order_id = answer.json()["order"]["paypalOrderId"]
    amount = merchant.get(f"/v2/checkout/orders/{order_id}")["purchase_units"][0]["amount"]
    assert amount == {"currency_code": currency, "value": "1000"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {"amount": "0.00", "currency": "USD", **URLS}, "body.amount"),
        ("", {"amount": "5.00", "currency": "usd", **URLS}, "body.currency"),
        ("", {"amount": "5.00", "currency": "AAA", **URLS}, "body.currency"),  # INVALID_CURRENCY_CODE at PayPal
        ("", {"amount": "1000.50", "currency": "JPY", **URLS}, "body"),  # no minor units in JPY
        ("", {"amount": "+10", "currency": "USD", **URLS}, "body.amount"),
        ("", {"amount": "5.00", "currency": "USD", "returnUrl": "ftp://x"}, "body.returnUrl"),
        ("", {"amount": "5.00", "currency": "USD", "intent": "AUTHORIZE", **URLS}, "body.intent"),
        ("/ABC/capture", {"extra": 1}, "body.extra"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_never_reaches_paypal(
    user: ApiUser, sandbox_control: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    integration = paypal_integration(user)
    seq = max((r["seq"] for r in sandbox_control.get("/requests", params={"provider": "paypal"}).json()), default=0)
    answer = user.client.post(f"{ORDERS}{path}", json={"integrationId": integration, **body})
    assert answer.status_code == 422, answer.text
    assert field in {item["field"] for item in answer.json()["error"]["details"]}
    after = sandbox_control.get("/requests", params={"provider": "paypal"}).json()
    assert [r for r in after if r["seq"] > seq] == []
