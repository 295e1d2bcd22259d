"""Real PayPal sandbox responses validated against PayPal's official OpenAPI documents
(payments_payment_v1, billing_subscriptions_v1, notifications_webhooks_v1), read from the shared
specs folder; skipped when it is absent."""

from __future__ import annotations

import copy
import json

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData

from tests.provider_sandbox.paypal_helpers import API, bearer, create_payment, link, paid, plan, subscription, token
from tests.provider_sandbox.specs import load_json_spec

HOST = "https://api-m.sandbox.paypal.com"


def api(name: str) -> OpenAPI:
    return OpenAPI.from_dict(load_json_spec("paypal", name), config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def payments() -> OpenAPI:
    return api("payments_payment_v1.json")


@pytest.fixture(scope="module")
def billing() -> OpenAPI:
    return api("billing_subscriptions_v1.json")


def validate(spec: OpenAPI, method: str, path: str, response: httpx.Response, body: bytes | None = None) -> None:
    spec.validate_response(
        MockRequest(HOST, method, path),
        MockResponse(
            body if body is not None else response.content, response.status_code, content_type="application/json"
        ),
    )


def test_payments_match_the_payments_spec(http: httpx.Client, payments: OpenAPI) -> None:
    access = token(http)
    created = http.post(
        f"{API}/payments/payment",
        json={
            "intent": "sale",
            "payer": {"payment_method": "paypal"},
            "transactions": [{"amount": {"total": "5.00", "currency": "USD"}}],
            "redirect_urls": {"return_url": "https://a.example/r", "cancel_url": "https://a.example/c"},
        },
        headers=bearer(access),
    )
    validate(payments, "post", "/v1/payments/payment", created)
    done = paid(http, access)
    fetched = http.get(f"{API}/payments/payment/{done['id']}", headers=bearer(access))
    validate(payments, "get", f"/v1/payments/payment/{done['id']}", fetched)
    listing = http.get(f"{API}/payments/payment", params={"count": 5}, headers=bearer(access))
    validate(payments, "get", "/v1/payments/payment", listing)
    sale_id = done["transactions"][0]["related_resources"][0]["sale"]["id"]
    validate(
        payments,
        "get",
        f"/v1/payments/sale/{sale_id}",
        http.get(f"{API}/payments/sale/{sale_id}", headers=bearer(access)),
    )
    refund = http.post(f"{API}/payments/sale/{sale_id}/refund", json={}, headers=bearer(access))
    validate(payments, "post", f"/v1/payments/sale/{sale_id}/refund", refund)
    error = http.get(f"{API}/payments/payment/PAYID-MISSING", headers=bearer(access))
    validate(payments, "get", "/v1/payments/payment/PAYID-MISSING", error)


def test_the_validator_really_checks(http: httpx.Client, payments: OpenAPI) -> None:
    access = token(http)
    response = http.get(f"{API}/payments/payment/{create_payment(http, access)['id']}", headers=bearer(access))
    broken = copy.deepcopy(response.json())
    broken["state"] = "SHREDDED"
    with pytest.raises(InvalidData):
        validate(payments, "get", "/v1/payments/payment/x", response, json.dumps(broken).encode())


def test_billing_matches_the_subscriptions_spec(http: httpx.Client, billing: OpenAPI) -> None:
    access = token(http)
    created_plan = plan(http, access)
    fetched = http.get(f"{API}/billing/plans/{created_plan['id']}", headers=bearer(access))
    validate(billing, "get", f"/v1/billing/plans/{created_plan['id']}", fetched)
    listing = http.get(f"{API}/billing/plans", params={"total_required": "true"}, headers=bearer(access))
    validate(billing, "get", "/v1/billing/plans", listing)
    sub = subscription(http, access, created_plan["id"])
    http.get(link(sub, "approve"), follow_redirects=False)
    got = http.get(f"{API}/billing/subscriptions/{sub['id']}", headers=bearer(access))
    validate(billing, "get", f"/v1/billing/subscriptions/{sub['id']}", got)
    unauthorized = http.get(f"{API}/billing/plans", headers=bearer("expired"))
    validate(billing, "get", "/v1/billing/plans", unauthorized)
    not_found = http.get(f"{API}/billing/subscriptions/I-NOPE", headers=bearer(access))
    validate(billing, "get", "/v1/billing/subscriptions/I-NOPE", not_found)


def test_verify_signature_answer_matches_the_webhooks_spec(http: httpx.Client) -> None:
    spec = api("notifications_webhooks_v1.json")
    body = {
        "auth_algo": "SHA256withRSA",
        "cert_url": "https://x.example/c.pem",
        "transmission_id": "abc-1",
        "transmission_sig": "sig1",
        "transmission_time": "2025-01-01T00:00:00Z",
        "webhook_id": "WH1",
        "webhook_event": {"id": "WH-1"},
    }
    response = http.post(f"{API}/notifications/verify-webhook-signature", json=body, headers=bearer(token(http)))
    assert response.json() == {"verification_status": "FAILURE"}
    validate(spec, "post", "/v1/notifications/verify-webhook-signature", response)
