"""PayPal webhooks over real HTTP, signed by the sandbox with its certificate.

Most tests use `receiver`: a service with its own database whose webhook only gets what the test
delivers, so each event arrives exactly as often, in the order and with the signature the test says.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import create_engine

from integration_service.webhooks import paypal_events
from tests.fixtures.service import ApiUser, RunningService
from tests.integration_service.paypal_helpers import (
    NEVER,
    SQL,
    URLS,
    Merchant,
    Receiver,
    approve,
    created_not_executed,
    deliver,
    drain,
    event_rows,
    events,
    main_endpoint,
    merchant,
    paid_through,
    payment_state,
    paypal_integration,
    refund,
    sql_r,
    webhook_logs,
)

__all__ = ["merchant", "sql_r"]  # fixtures, used by name (`receiver` is in conftest.py)

pytestmark = pytest.mark.db
NEGATIVE = ["tampered_body", "wrong_secret", "missing_signature", "foreign_cert_url", "stale_timestamp"]


def test_each_sale_event_changes_the_row_it_is_about(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment_id, sale_id = created_not_executed(receiver.user, integration, merchant, "40.00")
    assert payment_state(sql_r, integration, payment_id) == ("created", 0, None)

    [completed] = events(sandbox_control, sale_id, "PAYMENT.SALE.COMPLETED")
    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    assert attempt["status_code"] == 200, attempt["response_body"]
    assert json.loads(attempt["response_body"]) == {"received": True, "duplicate": False, "outcome": "applied"}
    assert payment_state(sql_r, integration, payment_id) == ("completed", 0, sale_id)

    refund(merchant, sale_id, "15.00")
    [refunded] = events(sandbox_control, sale_id, "PAYMENT.SALE.REFUNDED")
    deliver(sandbox_control, receiver.endpoint_id, [refunded["id"]])
    assert payment_state(sql_r, integration, payment_id) == ("partially_refunded", 15, sale_id)
    assert event_rows(sql_r, refunded["id"]) == [("applied", integration)]
    assert webhook_logs(sql_r, integration) == 2


def test_a_refund_delivered_three_times_is_counted_once(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment = paid_through(receiver.user, integration, "30.00")
    refund(merchant, payment["saleId"], "12.50")
    [refunded] = events(sandbox_control, payment["saleId"], "PAYMENT.SALE.REFUNDED")

    attempts = deliver(sandbox_control, receiver.endpoint_id, [refunded["id"]], times=3)
    assert [a["status_code"] for a in attempts] == [200, 200, 200]
    assert [json.loads(a["response_body"])["duplicate"] for a in attempts] == [False, True, True]
    assert payment_state(sql_r, integration, payment["paypalPaymentId"])[:2] == ("partially_refunded", 12.5)
    assert len(event_rows(sql_r, refunded["id"])) == 1
    assert webhook_logs(sql_r, integration) == 1


def test_sale_events_in_reverse_order_leave_the_final_state(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment_id, sale_id = created_not_executed(receiver.user, integration, merchant, "50.00")
    refund(merchant, sale_id, "20.00")
    refund(merchant, sale_id)  # the remaining 30.00
    history = events(sandbox_control, sale_id)
    assert [e["event_type"] for e in history] == ["PAYMENT.SALE.COMPLETED"] + ["PAYMENT.SALE.REFUNDED"] * 2

    deliver(sandbox_control, receiver.endpoint_id, [e["id"] for e in history], order="reversed")
    assert payment_state(sql_r, integration, payment_id) == ("refunded", 50, sale_id)
    outcomes = sorted(row[0] for e in history for row in event_rows(sql_r, e["id"]))
    assert outcomes == ["applied", "applied", "ignored"]  # the late COMPLETED changed nothing


def test_subscription_events_in_reverse_order_leave_it_cancelled(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    user, integration = receiver.user, paypal_integration(receiver.user)
    plan = user.client.post(
        "/api/integrations/paypal/plans",
        json={
            "integrationId": integration,
            "productId": "PROD-CRM-WH",
            "name": "Hooks",
            "amount": "5.00",
            "currency": "USD",
        },
    )
    assert plan.status_code == 201, plan.text
    subscribed = user.client.post(
        "/api/integrations/paypal/subscriptions",
        json={"integrationId": integration, "planId": plan.json()["plan"]["id"], **URLS},
    )
    assert subscribed.status_code == 201, subscribed.text
    subscription_id = subscribed.json()["subscription"]["paypalSubscriptionId"]
    approve(subscribed.json()["approvalUrl"])
    patched = merchant.http.patch(
        f"/v1/billing/subscriptions/{subscription_id}",
        json=[{"op": "replace", "path": "/custom_id", "value": "acct-9"}],
    )
    assert patched.status_code == 204, patched.text
    assert (
        merchant.post(f"/v1/billing/subscriptions/{subscription_id}/cancel", {"reason": "Too dear"}).status_code == 204
    )
    history = events(sandbox_control, subscription_id)
    assert [e["event_type"].rsplit(".", 1)[1] for e in history] == ["CREATED", "ACTIVATED", "UPDATED", "CANCELLED"]

    deliver(sandbox_control, receiver.endpoint_id, [e["id"] for e in history], order="reversed")
    row = sql_r.execute(
        "SELECT status FROM paypal_subscriptions WHERE paypal_subscription_id = %s", [subscription_id]
    ).fetchone()
    assert row is not None
    assert row[0] == "CANCELLED"


@pytest.mark.parametrize("variant", NEGATIVE)
def test_an_event_not_genuinely_signed_for_our_webhook_is_rejected_and_changes_nothing(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL, variant: str
) -> None:
    integration = paypal_integration(receiver.user)
    payment = paid_through(receiver.user, integration, "20.00")
    refund(merchant, payment["saleId"], "5.00")
    [refunded] = events(sandbox_control, payment["saleId"], "PAYMENT.SALE.REFUNDED")

    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [refunded["id"]], variant=variant)
    assert attempt["status_code"] == 400, attempt["response_body"]
    assert json.loads(attempt["response_body"])["error"]["code"] == "invalid_signature"
    assert payment_state(sql_r, integration, payment["paypalPaymentId"])[:2] == ("completed", 0)
    assert event_rows(sql_r, refunded["id"]) == []
    assert webhook_logs(sql_r, integration) == 0

    # The same event, genuinely signed, is then accepted: only the signature was wrong.
    [genuine] = deliver(sandbox_control, receiver.endpoint_id, [refunded["id"]])
    assert genuine["status_code"] == 200
    assert payment_state(sql_r, integration, payment["paypalPaymentId"])[:2] == ("partially_refunded", 5)


def test_an_event_signed_for_another_webhook_id_is_rejected(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment = paid_through(receiver.user, integration, "11.00")
    [completed] = events(sandbox_control, payment["saleId"], "PAYMENT.SALE.COMPLETED")
    other = sandbox_control.post(
        "/paypal/webhooks",
        json={"url": f"{receiver.url}/api/integrations/paypal/webhook", "enabled_events": [NEVER], "max_attempts": 1},
    )
    other.raise_for_status()
    try:
        [attempt] = deliver(sandbox_control, other.json()["webhook_id"], [completed["id"]])
    finally:
        sandbox_control.delete(f"/paypal/webhooks/{other.json()['webhook_id']}")
    assert attempt["status_code"] == 400
    assert event_rows(sql_r, completed["id"]) == []


def test_unmatched_events_are_recorded_and_acknowledged(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    oldest = merchant.every_payment_id()[-1]  # seeded history: never stored in the receiver's database
    stranger_sale = merchant.get(f"/v1/payments/payment/{oldest}")
    sale_id = stranger_sale["transactions"][0]["related_resources"][0]["sale"]["id"]
    refund(merchant, sale_id, "1.00")
    [refunded] = events(sandbox_control, sale_id, "PAYMENT.SALE.REFUNDED")
    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [refunded["id"]])
    assert attempt["status_code"] == 200
    assert json.loads(attempt["response_body"])["outcome"] == "unmatched"
    assert event_rows(sql_r, refunded["id"]) == [("unmatched", None)]


def test_unknown_event_types_are_recorded_as_ignored(receiver: Receiver, sql_r: SQL) -> None:
    engine = create_engine(receiver.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    event = {"id": "WH-UNKNOWN-TYPE-1", "event_type": "CUSTOMER.DISPUTE.CREATED", "resource": {"id": "PP-D-1"}}
    try:
        with engine.begin() as connection:
            first = paypal_events.handle(connection, event, 0.0)
        with engine.begin() as connection:
            again = paypal_events.handle(connection, event, 0.0)
    finally:
        engine.dispose()
    # Never confirmed with PayPal (it changes nothing), so a later delivery is processed afresh, not a
    # duplicate: a forged body stored under a genuine event's id must not stop the genuine event.
    assert (first.duplicate, first.outcome, again.duplicate, again.outcome) == (False, "ignored", False, "ignored")
    assert event_rows(sql_r, "WH-UNKNOWN-TYPE-1") == [("ignored", None)]


def test_background_deliveries_reach_the_service_and_change_its_rows(
    make_user: Callable[[], ApiUser],
    service: RunningService,
    merchant: Merchant,
    sandbox_control: httpx.Client,
    sql: SQL,
) -> None:
    user = make_user()
    integration = paypal_integration(user)
    payment = paid_through(user, integration, "60.00")
    refund(merchant, payment["saleId"], "60.00")
    drain(sandbox_control)
    [refunded] = events(sandbox_control, payment["saleId"], "PAYMENT.SALE.REFUNDED")
    answers = sandbox_control.get(
        "/paypal/webhooks/deliveries", params={"endpoint_id": main_endpoint(service), "event_id": refunded["id"]}
    ).json()
    assert [a["status_code"] for a in answers] == [200]
    assert payment_state(sql, integration, payment["paypalPaymentId"])[:2] == ("refunded", 60)


def test_the_sandbox_signature_verifies_by_paypals_documented_scheme(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client
) -> None:
    """Independent of the service's code: PayPal's documented self-verification, done here by hand."""
    integration = paypal_integration(receiver.user)
    payment = paid_through(receiver.user, integration, "9.99")
    [completed] = events(sandbox_control, payment["saleId"], "PAYMENT.SALE.COMPLETED")
    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    headers = {name.upper(): value for name, value in attempt["headers"].items()}
    body = json.dumps(completed, separators=(",", ":")).encode()  # what the sandbox sent, byte for byte
    message = "|".join(
        [
            headers["PAYPAL-TRANSMISSION-ID"],
            headers["PAYPAL-TRANSMISSION-TIME"],
            receiver.endpoint_id,
            str(zlib.crc32(body)),
        ]
    )
    certificate = x509.load_pem_x509_certificate(httpx.get(headers["PAYPAL-CERT-URL"], timeout=30).content)
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert headers["PAYPAL-AUTH-ALGO"] == "SHA256withRSA"
    key.verify(
        base64.b64decode(headers["PAYPAL-TRANSMISSION-SIG"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert attempt["status_code"] == 200
