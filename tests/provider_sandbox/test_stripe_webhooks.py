"""Stripe webhook delivery, checked independently with the official SDK's `Webhook.construct_event`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from tests.provider_sandbox.receiver import Receiver
from tests.provider_sandbox.stripe_helpers import get, paid_intent, post

CONTROL = "/_sandbox/stripe"


@pytest.fixture
def endpoint(http: httpx.Client, receiver: Receiver) -> Iterator[dict[str, Any]]:
    response = http.post(f"{CONTROL}/webhooks", json={"url": receiver.url, "retry_delay_ms": 10})
    assert response.status_code == 201, response.text
    body = response.json()
    yield body
    http.delete(f"{CONTROL}/webhooks/{body['id']}")


def verified(receiver: Receiver, secret: str) -> list[stripe.Event]:
    return [
        stripe.Webhook.construct_event(r.body.decode(), r.headers["stripe-signature"], secret)
        for r in receiver.received
    ]


def drain(http: httpx.Client) -> None:
    assert http.post(f"{CONTROL}/webhooks/drain").status_code == 200


def deliver(http: httpx.Client, endpoint: dict[str, Any], **body: Any) -> list[dict[str, Any]]:
    response = http.post(f"{CONTROL}/webhooks/deliver", json={"endpoint_id": endpoint["id"], **body})
    assert response.status_code == 200, response.text
    return list(response.json()["attempts"])


def test_registration_returns_a_whsec_secret_once(http: httpx.Client, endpoint: dict[str, Any]) -> None:
    assert endpoint["secret"].startswith("whsec_")
    listed = http.get(f"{CONTROL}/webhooks").json()
    mine = next(e for e in listed if e["id"] == endpoint["id"])
    assert mine["secret"] != endpoint["secret"]
    assert endpoint["secret"] not in json.dumps(listed)


def test_state_changes_are_delivered_signed_as_stripe_signs(
    http: httpx.Client, endpoint: dict[str, Any], receiver: Receiver
) -> None:
    intent = paid_intent(http, 4_200)
    declined = paid_intent(http, 900, "pm_card_chargeDeclined")
    post(http, "/refunds", {"charge": intent["latest_charge"], "amount": 200})
    drain(http)
    events = verified(receiver, endpoint["secret"])
    by_type = {e.type: e for e in events}
    assert {"charge.succeeded", "charge.failed", "charge.refunded", "payment_intent.succeeded"} <= set(by_type)
    assert by_type["charge.succeeded"].data.object.id == intent["latest_charge"]
    assert by_type["charge.failed"].data.object.id == declined["error"]["charge"]
    refunded = by_type["charge.refunded"]
    assert refunded.data.object.amount_refunded == 200
    assert refunded.data.previous_attributes is not None
    assert refunded.data.previous_attributes["amount_refunded"] == 0
    first = events[0]
    assert first.object == "event"
    assert first.id.startswith("evt_")
    assert first.livemode is False
    assert first.api_version
    # The same events are served by the API and recorded per attempt.
    assert get(http, f"/events/{refunded.id}").json()["type"] == "charge.refunded"
    attempts = http.get(f"{CONTROL}/webhooks/deliveries", params={"endpoint_id": endpoint["id"]}).json()
    assert len(attempts) == len(receiver.received)
    assert all(a["status_code"] == 200 and a["ok"] for a in attempts)
    assert endpoint["secret"] not in json.dumps(attempts)


def test_subscription_lifecycle_events(http: httpx.Client, endpoint: dict[str, Any], receiver: Receiver) -> None:
    customer = post(http, "/customers", {"email": "hooks@example.com"}).json()
    price = post(
        http,
        "/prices",
        {"currency": "usd", "unit_amount": 900, "recurring[interval]": "month", "product_data[name]": "H"},
    ).json()
    sub = post(http, "/subscriptions", {"customer": customer["id"], "items[0][price]": price["id"]}).json()
    post(http, f"/subscriptions/{sub['id']}", {"metadata[seats]": "5"})
    assert (
        http.delete(
            f"/stripe/v1/subscriptions/{sub['id']}",
            headers={"Authorization": "Bearer sk_test_sandbox_default_51Sandbox"},
        ).json()["status"]
        == "canceled"
    )
    drain(http)
    subscription_events = [
        e for e in verified(receiver, endpoint["secret"]) if e.type.startswith("customer.subscription")
    ]
    assert [e.type for e in subscription_events] == [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    ]
    updated = subscription_events[1].data.previous_attributes
    assert updated is not None
    assert updated["metadata"].to_dict() == {}
    assert subscription_events[2].data.object.status == "canceled"


@pytest.mark.parametrize("variant", ["wrong_secret", "stale_timestamp", "tampered_body", "missing_signature"])
def test_negative_variants_fail_sdk_verification(
    http: httpx.Client, endpoint: dict[str, Any], receiver: Receiver, variant: str
) -> None:
    event = http.post(
        f"{CONTROL}/events",
        json={"type": "charge.succeeded", "object_id": paid_intent(http)["latest_charge"], "deliver": False},
    ).json()
    drain(http)
    receiver.clear()
    receiver.statuses.extend([400] * 3)  # a verifying receiver refuses; no retry asked below
    attempts = deliver(http, endpoint, event_ids=[event["id"]], variant=variant, retry=False)
    assert [a["status_code"] for a in attempts] == [400]
    (got,) = receiver.received
    with pytest.raises((stripe.SignatureVerificationError, KeyError)):
        stripe.Webhook.construct_event(got.body.decode(), got.headers["stripe-signature"], endpoint["secret"])
    if variant == "tampered_body":
        assert json.loads(got.body)["data"]["object"]["amount"] != event["data"]["object"]["amount"]


def test_duplicates_and_reversed_order(http: httpx.Client, endpoint: dict[str, Any], receiver: Receiver) -> None:
    charge = paid_intent(http)["latest_charge"]
    drain(http)
    receiver.clear()
    made = [
        http.post(f"{CONTROL}/events", json={"type": kind, "object_id": charge, "deliver": False}).json()["id"]
        for kind in ("charge.succeeded", "charge.updated", "charge.captured")
    ]
    deliver(http, endpoint, event_ids=made[:1], times=3)
    deliver(http, endpoint, event_ids=made, order="reversed")
    ids = [e.id for e in verified(receiver, endpoint["secret"])]
    assert ids == [made[0]] * 3 + list(reversed(made))


def test_non_2xx_is_retried_a_bounded_number_of_times_and_recorded(http: httpx.Client, receiver: Receiver) -> None:
    created = http.post(
        f"{CONTROL}/webhooks", json={"url": receiver.url, "max_attempts": 3, "retry_delay_ms": 5}
    ).json()
    try:
        receiver.statuses.extend([500, 503, 500, 500])
        paid_intent(http, 1_234)
        drain(http)
        attempts = http.get(f"{CONTROL}/webhooks/deliveries", params={"endpoint_id": created["id"]}).json()
        charge_attempts = [a for a in attempts if a["event_type"] == "charge.succeeded"]
        assert 1 <= len(charge_attempts) <= 3
        all_codes = [a["status_code"] for a in attempts]
        assert all_codes.count(500) + all_codes.count(503) == 4
        per_delivery: dict[str, list[int]] = {}
        for a in attempts:
            per_delivery.setdefault(a["delivery_id"], []).append(a["attempt"])
        assert all(
            numbers == list(range(1, len(numbers) + 1)) and len(numbers) <= 3 for numbers in per_delivery.values()
        )
        failed = [a for a in attempts if not a["ok"]]
        assert all("rejected by test receiver" in a["response_body"] for a in failed)
    finally:
        http.delete(f"{CONTROL}/webhooks/{created['id']}")


def test_control_errors(http: httpx.Client, endpoint: dict[str, Any]) -> None:
    assert http.post(f"{CONTROL}/webhooks", json={"url": "ftp://x"}).status_code == 400
    assert http.post(f"{CONTROL}/webhooks", json={"url": "http://x", "secret": "nope"}).status_code == 400
    assert deliver_status(http, endpoint, event_ids=["evt_missing"]) == 404
    assert deliver_status(http, endpoint, event_ids=[], variant="valid") == 400
    assert http.post(f"{CONTROL}/events", json={"type": "charge.succeeded", "object_id": "cus_nope"}).status_code == 404


def deliver_status(http: httpx.Client, endpoint: dict[str, Any], **body: Any) -> int:
    return http.post(f"{CONTROL}/webhooks/deliver", json={"endpoint_id": endpoint["id"], **body}).status_code
