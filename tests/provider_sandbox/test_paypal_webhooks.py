"""PayPal webhook delivery, verified independently: RSA-SHA256 with the certificate fetched from
PAYPAL-CERT-URL (and a check that the URL is the sandbox's PayPal path), plus PayPal's own
verify-webhook-signature API."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.provider_sandbox.paypal_helpers import API, bearer, link, paid, plan, registered_webhook, subscription, token
from tests.provider_sandbox.receiver import Received, Receiver

CONTROL = "/_sandbox/paypal"


@pytest.fixture
def webhook(http: httpx.Client, receiver: Receiver) -> Iterator[dict[str, Any]]:
    with registered_webhook(http, receiver.url, retry_delay_ms=10) as hook:
        yield hook


def independently_valid(http: httpx.Client, got: Received, webhook_id: str) -> bool:
    """What a careful receiver does: trust only the sandbox's PayPal cert path, then check RSA."""
    headers = got.headers
    cert_url = headers["paypal-cert-url"]
    if not cert_url.startswith(str(http.base_url).rstrip("/") + "/paypal/certs/"):
        return False
    if "paypal-transmission-sig" not in headers:
        return False
    cert = x509.load_pem_x509_certificate(http.get(cert_url).content)
    message = "|".join(
        (headers["paypal-transmission-id"], headers["paypal-transmission-time"], webhook_id, str(zlib.crc32(got.body)))
    ).encode()
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(base64.b64decode(headers["paypal-transmission-sig"]), message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def verify_api(http: httpx.Client, access: str, got: Received, webhook_id: str) -> str:
    body = {
        "auth_algo": got.headers["paypal-auth-algo"],
        "cert_url": got.headers["paypal-cert-url"],
        "transmission_id": got.headers["paypal-transmission-id"],
        "transmission_sig": got.headers.get("paypal-transmission-sig", "x"),
        "transmission_time": got.headers["paypal-transmission-time"],
        "webhook_id": webhook_id,
        "webhook_event": json.loads(got.body),
    }
    response = http.post(f"{API}/notifications/verify-webhook-signature", json=body, headers=bearer(access))
    assert response.status_code == 200, response.text
    return str(response.json()["verification_status"])


def test_events_from_state_changes_are_signed_with_the_sandbox_certificate(
    http: httpx.Client, webhook: dict[str, Any], receiver: Receiver
) -> None:
    access = token(http)
    sale = paid(http, access, "20.00")["transactions"][0]["related_resources"][0]["sale"]
    paid(http, access, "9.00", payer="DENYPAYER2345")
    http.post(f"{API}/payments/sale/{sale['id']}/refund", json={}, headers=bearer(access))
    sub = subscription(http, access, plan(http, access)["id"])
    http.get(link(sub, "approve"), follow_redirects=False)
    http.patch(
        f"{API}/billing/subscriptions/{sub['id']}",
        json=[{"op": "replace", "path": "/custom_id", "value": "v2"}],
        headers=bearer(access),
    )
    http.post(f"{API}/billing/subscriptions/{sub['id']}/cancel", json={"reason": "done"}, headers=bearer(access))
    http.post(f"{CONTROL}/webhooks/drain")
    types = [json.loads(r.body)["event_type"] for r in receiver.received]
    for wanted in (
        "PAYMENT.SALE.COMPLETED",
        "PAYMENT.SALE.DENIED",
        "PAYMENT.SALE.REFUNDED",
        "BILLING.SUBSCRIPTION.CREATED",
        "BILLING.SUBSCRIPTION.UPDATED",
        "BILLING.SUBSCRIPTION.CANCELLED",
    ):
        assert wanted in types
    assert all(r.headers["paypal-auth-algo"] == "SHA256withRSA" for r in receiver.received)
    assert all(independently_valid(http, r, webhook["webhook_id"]) for r in receiver.received)
    first = receiver.received[0]
    assert verify_api(http, access, first, webhook["webhook_id"]) == "SUCCESS"
    assert verify_api(http, access, first, "WHUNKNOWN") == "FAILURE"


@pytest.mark.parametrize(
    "variant", ["wrong_secret", "stale_timestamp", "tampered_body", "foreign_cert_url", "missing_signature"]
)
def test_negative_variants(http: httpx.Client, webhook: dict[str, Any], receiver: Receiver, variant: str) -> None:
    access = token(http)
    paid(http, access)
    http.post(f"{CONTROL}/webhooks/drain")
    event_id = json.loads(receiver.received[-1].body)["id"]
    receiver.clear()
    response = http.post(
        f"{CONTROL}/webhooks/deliver",
        json={"endpoint_id": webhook["webhook_id"], "event_ids": [event_id], "variant": variant, "retry": False},
    )
    assert response.status_code == 200, response.text
    (got,) = receiver.received
    if variant == "stale_timestamp":
        # The signature itself is genuine; the receiver must reject it by its age.
        assert independently_valid(http, got, webhook["webhook_id"])
        assert got.headers["paypal-transmission-time"] < response.json()["attempts"][0]["at"][:19]
        return
    assert not independently_valid(http, got, webhook["webhook_id"])
    assert verify_api(http, access, got, webhook["webhook_id"]) == "FAILURE"
    if variant == "foreign_cert_url":  # the impostor's certificate really does verify its signature
        assert http.get(got.headers["paypal-cert-url"]).status_code == 200


def test_duplicates_and_reversed_order(http: httpx.Client, webhook: dict[str, Any], receiver: Receiver) -> None:
    access = token(http)
    for total in ("1.00", "2.00"):
        paid(http, access, total)
    http.post(f"{CONTROL}/webhooks/drain")
    ids = [json.loads(r.body)["id"] for r in receiver.received[-2:]]
    receiver.clear()
    hook = webhook["webhook_id"]
    http.post(f"{CONTROL}/webhooks/deliver", json={"endpoint_id": hook, "event_ids": ids[:1], "times": 2})
    http.post(f"{CONTROL}/webhooks/deliver", json={"endpoint_id": hook, "event_ids": ids, "order": "reversed"})
    assert [json.loads(r.body)["id"] for r in receiver.received] == [ids[0], ids[0], ids[1], ids[0]]
    assert all(independently_valid(http, r, hook) for r in receiver.received)
    attempts = http.get(f"{CONTROL}/webhooks/deliveries", params={"endpoint_id": hook}).json()
    assert [a["event_id"] for a in attempts[-4:]] == [ids[0], ids[0], ids[1], ids[0]]
