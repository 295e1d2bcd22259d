"""Real PayPal sandbox responses validated against PayPal's official OpenAPI documents
(payments_payment_v1, billing_subscriptions_v1, notifications_webhooks_v1), read from the shared
specs folder; skipped when it is absent.

Beyond openapi-core (which lets any extra key through, PayPal's schemas allowing additional
properties), every answer's keys are walked against the schema's `properties`, and every answer must
carry a `Paypal-Debug-Id` (on errors, the body's `debug_id`)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData

from tests.provider_sandbox.helpers import fault
from tests.provider_sandbox.paypal_helpers import (
    API,
    Recorder,
    approve,
    bearer,
    create_payment,
    link,
    operation_of,
    paid,
    plan,
    subscription,
    token,
    undefined_keys,
)
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


@pytest.fixture
def recorded(http: httpx.Client) -> Iterator[tuple[httpx.Client, Recorder]]:
    """A client of the same sandbox whose every response is kept for checking."""
    load_json_spec("paypal", "billing_subscriptions_v1.json")  # skips when the specs are absent
    recorder = Recorder()
    with httpx.Client(base_url=http.base_url, timeout=15.0, event_hooks={"response": [recorder]}) as client:
        yield client, recorder


def test_the_key_walk_really_checks(http: httpx.Client) -> None:
    load_json_spec("paypal", "payments_payment_v1.json")
    access = token(http)
    created = create_payment(http, access)
    found = operation_of("GET", "/v1/payments/payment/x")
    assert found is not None
    source, template = found
    schema = source.document["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert undefined_keys(source.document, [schema], created) == []
    created["approved_payer"] = "ABCDEFGHJKLMN"
    created["transactions"][0]["amount"]["cart"] = "x"
    assert undefined_keys(source.document, [schema], created) == ["$.approved_payer", "$.transactions[0].amount.cart"]


def _payments_flow(client: httpx.Client, access: str) -> None:
    """Every payments v1 operation the sandbox serves, answering and refusing."""
    auth = bearer(access)
    created = create_payment(client, access)
    approve(client, link(created, "approval_url"))
    client.get(f"{API}/payments/payment/{created['id']}", headers=auth)  # approved, not yet executed
    done = paid(client, access, "44.00")
    sale_id = done["transactions"][0]["related_resources"][0]["sale"]["id"]
    client.get(f"{API}/payments/sale/{sale_id}", headers=auth)
    refund = client.post(
        f"{API}/payments/sale/{sale_id}/refund", json={"amount": {"total": "4.00", "currency": "USD"}}, headers=auth
    )
    client.get(f"{API}/payments/refund/{refund.json()['id']}", headers=auth)
    client.get(
        f"{API}/payments/payment", params={"count": 3, "sort_by": "create_time", "sort_order": "desc"}, headers=auth
    )
    for params in ({"count": 0}, {"start_time": "yesterday"}, {"sort_order": "asc"}, {"start_index": 0}):
        assert client.get(f"{API}/payments/payment", params=params, headers=auth).status_code == 400
    client.post(f"{API}/payments/payment", json={"intent": "sale"}, headers=auth)
    client.post(f"{API}/payments/payment", content=b"{nope", headers={**auth, "Content-Type": "application/json"})
    client.post(f"{API}/payments/payment/{created['id']}/execute", json={"payer_id": "NOTTHEPAYER23"}, headers=auth)
    client.get(f"{API}/payments/sale/NOSUCHSALE", headers=auth)
    client.post(
        f"{API}/payments/sale/{sale_id}/refund", json={"amount": {"total": "900.00", "currency": "USD"}}, headers=auth
    )
    client.get(f"{API}/payments/payment", headers=bearer("not-a-token"))


def _plans_flow(client: httpx.Client, access: str) -> str:
    """Every plan operation, answering and refusing; the id of an active plan."""
    auth = bearer(access)
    active = plan(client, access)
    created = plan(client, access, status="CREATED")
    for plan_id in (active["id"], "P-NOSUCHPLAN"):
        client.get(f"{API}/billing/plans/{plan_id}", headers=auth)
    client.get(f"{API}/billing/plans", params={"page_size": 2, "total_required": "true"}, headers=auth)
    client.get(f"{API}/billing/plans", params={"page_size": 2}, headers={**auth, "Prefer": "return=representation"})
    client.get(f"{API}/billing/plans", params={"page_size": 50}, headers=auth)
    client.post(f"{API}/billing/plans", json={"name": "x"}, headers=auth)
    client.post(f"{API}/billing/plans", json={**_plan_body(), "billing_cycles": []}, headers=auth)
    client.post(f"{API}/billing/plans", content=b"[", headers={**auth, "Content-Type": "application/json"})
    replace = [{"op": "replace", "path": "/description", "value": "Better"}]
    client.patch(f"{API}/billing/plans/{active['id']}", json=replace, headers=auth)
    client.patch(
        f"{API}/billing/plans/{active['id']}", json=[{"op": "add", "path": "/name", "value": "y"}], headers=auth
    )
    client.patch(
        f"{API}/billing/plans/{active['id']}", json=[{"op": "replace", "path": "/name", "value": ""}], headers=auth
    )
    for action in ("activate", "deactivate", "deactivate"):
        client.post(f"{API}/billing/plans/{created['id']}/{action}", headers=auth)
    client.patch(f"{API}/billing/plans/{created['id']}", json=replace, headers=auth)  # inactive now: 422
    client.post(f"{API}/billing/plans/{active['id']}/activate", headers=auth)
    return str(active["id"])


def _plan_body() -> dict[str, Any]:
    return {"product_id": "PROD-SANDBOX01", "name": "x", "payment_preferences": {}, "billing_cycles": []}


def _subscriptions_flow(client: httpx.Client, access: str, plan_id: str) -> None:
    """Every subscription operation, answering and refusing."""
    auth = bearer(access)
    sub = subscription(client, access, plan_id)
    client.patch(
        f"{API}/billing/subscriptions/{sub['id']}",
        json=[{"op": "add", "path": "/custom_id", "value": "a"}],
        headers=auth,
    )
    approve(client, link(sub, "approve"))
    client.get(f"{API}/billing/subscriptions/{sub['id']}", params={"fields": "plan"}, headers=auth)
    client.get(f"{API}/billing/subscriptions/{sub['id']}", params={"fields": "everything"}, headers=auth)
    client.patch(
        f"{API}/billing/subscriptions/{sub['id']}",
        json=[{"op": "add", "path": "/custom_id", "value": "b"}],
        headers=auth,
    )
    client.patch(
        f"{API}/billing/subscriptions/{sub['id']}",
        json=[{"op": "replace", "path": "/quantity", "value": "2"}],
        headers=auth,
    )
    client.patch(
        f"{API}/billing/subscriptions/{sub['id']}",
        json=[{"op": "replace", "path": "/start_time", "value": "2030-01-01T00:00:00Z"}],
        headers=auth,
    )
    client.post(f"{API}/billing/subscriptions/{sub['id']}/cancel", json={}, headers=auth)
    client.post(f"{API}/billing/subscriptions/{sub['id']}/cancel", json={"reason": "r" * 129}, headers=auth)
    client.post(f"{API}/billing/subscriptions/{sub['id']}/cancel", json={"reason": "Done"}, headers=auth)
    client.post(f"{API}/billing/subscriptions/{sub['id']}/cancel", json={"reason": "Again"}, headers=auth)
    client.post(f"{API}/billing/subscriptions", headers=auth)
    for body in (
        {"plan_id": "asd"},
        {"plan_id": "P-" + "0" * 24},
        {"plan_id": plan_id, "quantity": "2"},
        {"plan_id": plan_id, "custom_id": ""},
    ):
        client.post(f"{API}/billing/subscriptions", json=body, headers=auth)
    client.get(f"{API}/billing/subscriptions/I-NOSUCHSUB", headers=auth)


def _faults_flow(client: httpx.Client, http: httpx.Client, access: str) -> None:
    """Injected faults and answers outside every route, on payments and billing paths alike."""
    auth = bearer(access)
    for status in (400, 401, 403, 404, 409, 422, 500, 502, 503):
        for path in ("/v1/payments/payment", "/v1/billing/plans"):
            fault(http, provider="paypal", kind="error", status=status, path=path, message="sandbox words")
            client.get(f"{API}{path.removeprefix('/v1')}", headers=auth)
    fault(http, provider="paypal", kind="rate_limit", path="/payments/payment", retry_after=3)
    client.get(f"{API}/payments/payment", headers=auth)
    client.get(f"{API}/billing/nowhere", headers=auth)
    client.put(f"{API}/billing/plans", headers=auth)


def test_every_answer_is_what_paypal_documents(recorded: tuple[httpx.Client, Recorder], http: httpx.Client) -> None:
    client, recorder = recorded
    access = token(client)
    _payments_flow(client, access)
    _subscriptions_flow(client, access, _plans_flow(client, access))
    _faults_flow(client, http, access)
    statuses = {response.status_code for response in recorder.responses}
    assert {200, 201, 204, 302, 400, 401, 404, 422, 429, 500, 503} <= statuses  # the flows did reach them
    assert recorder.problems() == []


def test_a_billing_rate_limit_is_paypals_though_the_billing_spec_has_none(http: httpx.Client) -> None:
    """PayPal documents 429 RATE_LIMIT_REACHED for every API; the billing spec lists no 429 (its
    `default` is a oneOf of other names), so only its shape is checked here."""
    fault(http, provider="paypal", kind="rate_limit", path="/billing/plans")
    limited = http.get(f"{API}/billing/plans", headers=bearer(token(http)))
    body = limited.json()
    assert (limited.status_code, body["name"]) == (429, "RATE_LIMIT_REACHED")
    assert body["message"] == "Too many requests. Blocked due to rate limiting."
    assert body["debug_id"] == limited.headers["paypal-debug-id"]
    assert set(body) == {"name", "message", "debug_id", "links"}


def test_event_resources_carry_only_documented_fields(http: httpx.Client) -> None:
    """Webhook events carry the same objects as the API (a sale, a refund, a subscription)."""
    access = token(http)
    sale_id = paid(http, access)["transactions"][0]["related_resources"][0]["sale"]["id"]
    http.post(f"{API}/payments/sale/{sale_id}/refund", json={}, headers=bearer(access))
    sub = subscription(http, access, plan(http, access)["id"])
    approve(http, link(sub, "approve"))
    shown_by = {
        "sale": "/v1/payments/sale/x",
        "refund": "/v1/payments/refund/x",
        "subscription": "/v1/billing/subscriptions/x",
    }
    # Orders' events (checkout-order, capture, authorization) are checked in test_paypal_orders.py.
    events = [e for e in http.get("/_sandbox/paypal/events").json() if e["resource_type"] in shown_by]
    assert {event["resource_type"] for event in events} >= set(shown_by)
    for event in events:
        found = operation_of("GET", shown_by[event["resource_type"]])
        assert found is not None
        source, template = found
        schema = source.document["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert undefined_keys(source.document, [schema], event["resource"]) == [], event["event_type"]
