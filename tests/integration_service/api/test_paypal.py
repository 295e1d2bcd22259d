"""PayPal actions and read routes over real HTTP: service → sandbox, checked in the sandbox and in our tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.service import ApiUser
from tests.integration_service.paypal_helpers import (
    SQL,
    Merchant,
    approve,
    merchant,
    paid_through,
    payment_state,
    paypal_integration,
)

__all__ = ["merchant"]  # a fixture, used by name

pytestmark = pytest.mark.db
URLS = {"returnUrl": "https://crm.example/return", "cancelUrl": "https://crm.example/cancel"}


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


def plan(user: ApiUser, integration: str, **extra: Any) -> httpx.Response:
    body = {"integrationId": integration, "productId": "PROD-CRM-PRO", "name": "CRM Pro", "amount": "29.00"}
    return user.client.post("/api/integrations/paypal/plans", json={"currency": "USD", **body, **extra})


def test_a_payment_is_created_approved_executed_and_stored(user: ApiUser, merchant: Merchant, sql: SQL) -> None:
    integration = paypal_integration(user)
    created = user.client.post(
        "/api/integrations/paypal/payments",
        json={"integrationId": integration, "amount": "42.50", "currency": "USD", "description": "Order 7", **URLS},
    )
    assert created.status_code == 201, created.text
    payment = created.json()["payment"]
    assert payment["state"] == "created"
    assert payment["amount"] == "42.5000"
    assert "checkoutnow?token=EC-" in created.json()["approvalUrl"]
    assert payment_state(sql, integration, payment["paypalPaymentId"])[0] == "created"

    back = approve(created.json()["approvalUrl"])
    executed = user.client.post(
        f"/api/integrations/paypal/payments/{payment['paypalPaymentId']}/execute",
        json={"integrationId": integration, "payerId": back["PayerID"]},
    )
    assert executed.status_code == 200, executed.text
    at_paypal = merchant.get(f"/v1/payments/payment/{payment['paypalPaymentId']}")
    sale = at_paypal["transactions"][0]["related_resources"][0]["sale"]
    assert (at_paypal["state"], sale["state"]) == ("approved", "completed")
    assert executed.json()["payment"]["saleId"] == sale["id"]
    assert executed.json()["payment"]["payerId"] == back["PayerID"]
    state, refunded, sale_id = payment_state(sql, integration, payment["paypalPaymentId"])
    assert (state, refunded, sale_id) == ("completed", 0, sale["id"])

    listed = user.client.get("/api/integrations/paypal/payments", params={"integrationId": integration}).json()
    assert listed["total"] == 1
    assert listed["payments"][0]["paypalPaymentId"] == payment["paypalPaymentId"]


def test_a_denied_buyer_leaves_a_denied_payment(user: ApiUser, sql: SQL) -> None:
    integration = paypal_integration(user)
    payment = paid_through(user, integration, "13.00", payer="DENYPAYER2345")
    assert payment["state"] == "denied"
    assert payment_state(sql, integration, payment["paypalPaymentId"])[0] == "denied"
    denied = user.client.get("/api/integrations/paypal/payments", params={"state": "denied"}).json()
    assert [p["paypalPaymentId"] for p in denied["payments"]] == [payment["paypalPaymentId"]]


def test_a_plan_is_created_and_activated_and_a_subscription_created_and_cancelled(
    user: ApiUser, merchant: Merchant, sql: SQL
) -> None:
    integration = paypal_integration(user)
    created = plan(user, integration, activate=False)
    assert created.status_code == 201, created.text
    plan_id = created.json()["plan"]["id"]
    assert created.json()["plan"]["status"] == "CREATED"
    refused = user.client.post(
        "/api/integrations/paypal/subscriptions", json={"integrationId": integration, "planId": plan_id, **URLS}
    )
    assert refused.status_code == 422  # PayPal: the plan is not active yet
    assert "PLAN_STATUS_INVALID" in refused.json()["error"]["message"]

    activated = user.client.post(
        f"/api/integrations/paypal/plans/{plan_id}/activate", json={"integrationId": integration}
    )
    assert activated.status_code == 200, activated.text
    assert activated.json()["plan"]["status"] == "ACTIVE"
    assert merchant.get(f"/v1/billing/plans/{plan_id}")["status"] == "ACTIVE"

    subscribed = user.client.post(
        "/api/integrations/paypal/subscriptions",
        json={"integrationId": integration, "planId": plan_id, "subscriberEmail": "ada@example.com", **URLS},
    )
    assert subscribed.status_code == 201, subscribed.text
    subscription = subscribed.json()["subscription"]
    assert (subscription["status"], subscription["subscriberEmail"]) == ("APPROVAL_PENDING", "ada@example.com")
    approve(subscribed.json()["approvalUrl"])
    subscription_id = subscription["paypalSubscriptionId"]

    cancelled = user.client.post(
        f"/api/integrations/paypal/subscriptions/{subscription_id}/cancel",
        json={"integrationId": integration, "reason": "Customer asked"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["subscription"]["status"] == "CANCELLED"
    assert merchant.get(f"/v1/billing/subscriptions/{subscription_id}")["status"] == "CANCELLED"
    row = sql.execute(
        "SELECT status, plan_id FROM paypal_subscriptions WHERE paypal_subscription_id = %s", [subscription_id]
    ).fetchone()
    assert row is not None
    assert tuple(row) == ("CANCELLED", plan_id)
    listed = user.client.get("/api/integrations/paypal/subscriptions", params={"status": "CANCELLED"}).json()
    assert [s["paypalSubscriptionId"] for s in listed["subscriptions"]] == [subscription_id]


def test_another_users_integration_is_not_found_and_their_records_invisible(
    make_user: Callable[[], ApiUser], sql: SQL
) -> None:
    owner, stranger = make_user(), make_user()
    integration = paypal_integration(owner)
    payment = paid_through(owner, integration)
    body = {"integrationId": integration, "amount": "1.00", "currency": "USD", **URLS}
    attempt = stranger.client.post("/api/integrations/paypal/payments", json=body)
    assert attempt.status_code == 404
    assert attempt.json()["error"]["code"] == "not_found"
    execute = stranger.client.post(
        f"/api/integrations/paypal/payments/{payment['paypalPaymentId']}/execute",
        json={"integrationId": integration, "payerId": "ABCDEFGHJKLMN"},
    )
    assert execute.status_code == 404
    assert stranger.client.get("/api/integrations/paypal/payments").json()["total"] == 0
    assert (
        stranger.client.get("/api/integrations/paypal/payments", params={"integrationId": integration}).json()["total"]
        == 0
    )
    count = sql.execute("SELECT count(*) FROM paypal_payments WHERE integration_id = %s", [integration]).fetchone()
    assert count is not None
    assert count[0] == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/payments", {"amount": "-1.00", "currency": "USD", **URLS}, "body.amount"),
        ("/payments", {"amount": "1.001", "currency": "USD", **URLS}, "body.amount"),
        ("/payments", {"amount": "5.00", "currency": "usd", **URLS}, "body.currency"),
        ("/payments", {"amount": "5.00", "currency": "USD", "returnUrl": "javascript:alert(1)"}, "body.returnUrl"),
        ("/payments", {"amount": "5.00", "currency": "USD", "clientSecret": "x", **URLS}, "body.clientSecret"),
        ("/payments/PAYID-X/execute", {"payerId": "bad id!"}, "body.payerId"),
        ("/subscriptions", {"planId": "../../v1/oauth2/token", **URLS}, "body.planId"),
        ("/subscriptions", {"planId": "0", **URLS}, "body.planId"),  # PayPal: 3 to 50 characters
        ("/payments", {"amount": "5.00", "currency": "AAA", **URLS}, "body.currency"),  # none PayPal takes
        (
            "/plans",
            {"productId": "PROD-1", "name": "p", "amount": "5", "currency": "USD", "totalCycles": False},
            "body.totalCycles",
        ),
        ("/subscriptions/I-ABC/cancel", {"reason": ""}, "body.reason"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_never_reaches_paypal(
    user: ApiUser, sandbox_control: httpx.Client, sql: SQL, path: str, body: dict[str, Any], field: str
) -> None:
    integration = paypal_integration(user)
    before = sandbox_control.get("/requests", params={"provider": "paypal"}).json()
    seq = max((r["seq"] for r in before), default=0)
    answer = user.client.post(f"/api/integrations/paypal{path}", json={"integrationId": integration, **body})
    assert answer.status_code == 422, answer.text
    assert field in {item["field"] for item in answer.json()["error"]["details"]}
    after = sandbox_control.get("/requests", params={"provider": "paypal"}).json()
    assert [r for r in after if r["seq"] > seq] == []
    rows = sql.execute("SELECT count(*) FROM paypal_payments WHERE integration_id = %s", [integration]).fetchone()
    assert rows is not None
    assert rows[0] == 0


def test_a_path_id_that_is_not_a_paypal_id_is_refused(user: ApiUser) -> None:
    integration = paypal_integration(user)
    answer = user.client.post(
        "/api/integrations/paypal/payments/PAYID%2F..%2Fx/execute",
        json={"integrationId": integration, "payerId": "ABCDEFGHJKLMN"},
    )
    assert answer.status_code in (404, 422)
    assert "error" in answer.json()
