"""PayPal simulator over real HTTP: tokens, payments v1, billing plans and subscriptions."""

from __future__ import annotations

import httpx
import pytest

from tests.provider_sandbox.helpers import basic, fault
from tests.provider_sandbox.paypal_helpers import (
    API,
    CLIENT_ID,
    approve,
    bearer,
    create_payment,
    link,
    paid,
    plan,
    subscription,
    token,
)


@pytest.fixture
def access(http: httpx.Client) -> str:
    return token(http)


def test_client_credentials_token(http: httpx.Client) -> None:
    response = http.post(
        f"{API}/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(CLIENT_ID, "sandbox-paypal-secret")},
    )
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 32400)
    assert body["app_id"].startswith("APP-")
    assert "https://uri.paypal.com/services/" in body["scope"]
    assert "refresh_token" not in body
    wrong = http.post(
        f"{API}/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(CLIENT_ID, "nope")},
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")


def test_bad_and_expired_tokens_are_401_authentication_failure(http: httpx.Client, access: str) -> None:
    bad = http.get(f"{API}/payments/payment", headers=bearer("not-a-token"))
    assert bad.status_code == 401
    assert bad.json()["name"] == "AUTHENTICATION_FAILURE"
    assert bad.json()["debug_id"]
    assert http.post("/_sandbox/tokens/expire", json={"token": access}).json()["expired"] == 1
    assert http.get(f"{API}/payments/payment", headers=bearer(access)).status_code == 401


def test_create_approve_execute_a_payment(http: httpx.Client, access: str) -> None:
    created = create_payment(http, access, "12.50")
    assert created["state"] == "created"
    assert link(created, "approval_url").startswith(str(http.base_url).rstrip("/") + "/paypal/checkoutnow?token=EC-")
    params = approve(http, link(created, "approval_url"))
    assert params["paymentId"] == created["id"]
    done = http.post(
        f"{API}/payments/payment/{created['id']}/execute", json={"payer_id": params["PayerID"]}, headers=bearer(access)
    )
    payment = done.json()
    assert payment["state"] == "approved"
    sale = payment["transactions"][0]["related_resources"][0]["sale"]
    assert (sale["state"], sale["amount"]["total"], sale["parent_payment"]) == ("completed", "12.50", created["id"])
    again = http.post(
        f"{API}/payments/payment/{created['id']}/execute", json={"payer_id": params["PayerID"]}, headers=bearer(access)
    )
    assert (again.status_code, again.json()["name"]) == (400, "PAYMENT_ALREADY_DONE")
    fetched = http.get(f"{API}/payments/payment/{created['id']}", headers=bearer(access)).json()
    assert fetched["state"] == "approved"


def test_execute_without_approval_and_bad_bodies(http: httpx.Client, access: str) -> None:
    created = create_payment(http, access)
    refused = http.post(
        f"{API}/payments/payment/{created['id']}/execute", json={"payer_id": "ABCDEFGHJKLMN"}, headers=bearer(access)
    )
    assert refused.json()["name"] == "PAYMENT_NOT_APPROVED_FOR_EXECUTION"
    bad = http.post(
        f"{API}/payments/payment",
        json={
            "intent": "sale",
            "payer": {"payment_method": "paypal"},
            "transactions": [{"amount": {"total": "ten", "currency": "USD"}}],
        },
        headers=bearer(access),
    )
    assert bad.status_code == 400
    assert bad.json()["name"] == "VALIDATION_ERROR"
    assert bad.json()["details"][0]["field"] == "transactions[0].amount.total"
    garbage = http.post(
        f"{API}/payments/payment", content=b"{nope", headers={**bearer(access), "Content-Type": "application/json"}
    )
    assert garbage.status_code == 400
    assert http.get(f"{API}/payments/payment/PAYID-NOPE", headers=bearer(access)).status_code == 404


def test_payment_list_pages_with_start_id_and_next_id(http: httpx.Client, access: str) -> None:
    seen: list[str] = []
    params: dict[str, str | int] = {"count": 20}
    while True:
        page = http.get(f"{API}/payments/payment", params=params, headers=bearer(access)).json()
        seen.extend(p["id"] for p in page["payments"])
        assert page["count"] == len(page["payments"]) <= 20
        if "next_id" not in page:
            break
        params = {"count": 20, "start_id": page["next_id"]}
    assert len(seen) == len(set(seen)) >= 45
    assert http.get(f"{API}/payments/payment", params={"count": 21}, headers=bearer(access)).status_code == 400


def test_sale_refund_partial_then_full(http: httpx.Client, access: str) -> None:
    sale = paid(http, access, "40.00")["transactions"][0]["related_resources"][0]["sale"]
    part = http.post(
        f"{API}/payments/sale/{sale['id']}/refund",
        json={"amount": {"total": "15.00", "currency": "USD"}},
        headers=bearer(access),
    )
    assert (part.status_code, part.json()["state"]) == (201, "completed")
    assert http.get(f"{API}/payments/sale/{sale['id']}", headers=bearer(access)).json()["state"] == "partially_refunded"
    rest = http.post(f"{API}/payments/sale/{sale['id']}/refund", json={}, headers=bearer(access))
    assert rest.json()["amount"]["total"] == "25.00"
    assert http.get(f"{API}/payments/sale/{sale['id']}", headers=bearer(access)).json()["state"] == "refunded"
    assert http.post(f"{API}/payments/sale/{sale['id']}/refund", json={}, headers=bearer(access)).status_code == 400


def test_plans_activate_and_list(http: httpx.Client, access: str) -> None:
    created = plan(http, access, status="CREATED")
    assert created["id"].startswith("P-")
    assert http.post(f"{API}/billing/plans/{created['id']}/activate", headers=bearer(access)).status_code == 204
    again = http.post(f"{API}/billing/plans/{created['id']}/activate", headers=bearer(access))
    assert (again.status_code, again.json()["name"]) == (422, "UNPROCESSABLE_ENTITY")
    listed = http.get(f"{API}/billing/plans", params={"total_required": "true"}, headers=bearer(access)).json()
    assert created["id"] in [p["id"] for p in listed["plans"]] or listed["total_items"] > 10
    bad = http.post(f"{API}/billing/plans", json={"name": "x"}, headers=bearer(access))
    assert bad.status_code == 400


def test_subscription_create_approve_get_cancel(http: httpx.Client, access: str) -> None:
    sub = subscription(http, access, plan(http, access)["id"])
    assert sub["status"] == "APPROVAL_PENDING"
    returned = approve(http, link(sub, "approve"))
    assert returned["subscription_id"] == sub["id"]
    active = http.get(f"{API}/billing/subscriptions/{sub['id']}", headers=bearer(access)).json()
    assert active["status"] == "ACTIVE"
    assert active["billing_info"]["failed_payments_count"] == 0
    assert (
        http.post(
            f"{API}/billing/subscriptions/{sub['id']}/cancel", json={"reason": "Not needed"}, headers=bearer(access)
        ).status_code
        == 204
    )
    again = http.post(f"{API}/billing/subscriptions/{sub['id']}/cancel", json={"reason": "x"}, headers=bearer(access))
    assert again.status_code == 422
    assert http.get(f"{API}/billing/subscriptions/{sub['id']}", headers=bearer(access)).json()["status"] == "CANCELLED"
    inactive = plan(http, access, status="INACTIVE")
    refused = http.post(f"{API}/billing/subscriptions", json={"plan_id": inactive["id"]}, headers=bearer(access))
    assert refused.status_code == 422


def test_faults_use_paypals_envelope(http: httpx.Client, access: str) -> None:
    fault(http, provider="paypal", kind="rate_limit", path="/payments/payment", retry_after=5)
    limited = http.get(f"{API}/payments/payment", headers=bearer(access))
    assert (limited.status_code, limited.json()["name"], limited.headers["retry-after"]) == (
        429,
        "RATE_LIMIT_REACHED",
        "5",
    )
    fault(http, provider="paypal", kind="error", status=503, path="/billing/plans")
    assert http.get(f"{API}/billing/plans", headers=bearer(access)).json()["name"] == "SERVICE_UNAVAILABLE"
    assert http.get(f"{API}/nowhere", headers=bearer(access)).json()["name"] == "RESOURCE_NOT_FOUND"


def test_every_answer_has_a_debug_id(http: httpx.Client, access: str) -> None:
    """PayPal sends Paypal-Debug-Id on every response: tokens, 204s, redirects, errors and faults."""
    created = plan(http, access, status="CREATED")
    answers = [
        http.post(
            f"{API}/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic(CLIENT_ID, "sandbox-paypal-secret")},
        ),
        http.post(f"{API}/oauth2/token", data={"grant_type": "client_credentials"}),
        http.post(f"{API}/billing/plans/{created['id']}/activate", headers=bearer(access)),
        http.get(link(create_payment(http, access), "approval_url"), follow_redirects=False),
        http.get(f"{API}/billing/plans/P-NOSUCHPLAN", headers=bearer(access)),
        http.get(f"{API}/nowhere", headers=bearer(access)),
    ]
    fault(http, provider="paypal", kind="malformed", path="/payments/payment")
    answers.append(http.get(f"{API}/payments/payment", headers=bearer(access)))
    assert [answer.status_code for answer in answers] == [200, 401, 204, 302, 404, 404, 200]
    ids = [answer.headers["paypal-debug-id"] for answer in answers]
    assert len(set(ids)) == len(ids)
    assert all(len(value) == 13 and int(value, 16) >= 0 for value in ids)
    assert [answer.json()["debug_id"] for answer in answers[4:6]] == ids[4:6]


def test_subscription_patch_follows_the_specs_table(http: httpx.Client, access: str) -> None:
    sub = subscription(http, access, plan(http, access)["id"])
    url = f"{API}/billing/subscriptions/{sub['id']}"

    def patch(path: str, value: object, op: str = "replace") -> httpx.Response:
        return http.patch(url, json=[{"op": op, "path": path, "value": value}], headers=bearer(access))

    pending = patch("/custom_id", "early")
    assert (pending.status_code, pending.json()["details"][0]["issue"]) == (422, "SUBSCRIPTION_STATUS_INVALID")
    approve(http, link(sub, "approve"))
    assert patch("/custom_id", "crm-user-8", "add").status_code == 204
    assert patch("/shipping_amount", {"currency_code": "USD", "value": "2.00"}).status_code == 204
    got = http.get(url, headers=bearer(access)).json()
    assert (got["custom_id"], got["shipping_amount"]["value"]) == ("crm-user-8", "2.00")
    quantity = patch("/quantity", "3")  # changed by /revise at PayPal, not by PATCH
    assert (quantity.status_code, quantity.json()["details"][0]["issue"]) == (400, "INVALID_PATCH_PATH")
    started = patch("/start_time", "2031-01-01T00:00:00Z")
    assert (started.status_code, started.json()["details"][0]["issue"]) == (422, "INVALID_START_TIME")
    no_reason = http.post(f"{url}/cancel", json={}, headers=bearer(access))
    assert (no_reason.status_code, no_reason.json()["name"], "details" in no_reason.json()) == (
        400,
        "INVALID_REQUEST",
        False,  # the spec lists only INVALID_STRING_MAX_LENGTH for cancel's 400
    )
