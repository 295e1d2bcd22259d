"""PayPal order webhooks (CHECKOUT.ORDER.APPROVED, PAYMENT.CAPTURE.COMPLETED) over real HTTP, signed by the
sandbox, delivered to `receiver` exactly as often, in the order and with the signature each test says."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration_service.paypal_helpers import (
    SQL,
    Merchant,
    Receiver,
    deliver,
    event_rows,
    intercepted,
    merchant,
    paypal_integration,
    post_forged,
    sql_r,
    webhook_logs,
)
from tests.integration_service.paypal_order_helpers import approved_order, order_events, order_state

__all__ = ["merchant", "sql_r"]  # fixtures, used by name (`receiver` is in conftest.py)

pytestmark = pytest.mark.db
APPROVED, CAPTURED = "CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"
NEGATIVE = ["tampered_body", "wrong_secret", "missing_signature", "foreign_cert_url", "stale_timestamp"]


def captured_by_merchant(merchant: Merchant, order_id: str) -> str:
    """Captured at PayPal directly, not through the service: only the webhook tells the row. The capture id."""
    answer = merchant.http.post(f"/v2/checkout/orders/{order_id}/capture", json={})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["purchase_units"][0]["payments"]["captures"][0]["id"])


def outcome(attempt: dict[str, Any]) -> Any:
    assert attempt["status_code"] == 200, attempt["response_body"]
    return json.loads(attempt["response_body"]).get("outcome")  # a duplicate's answer has none


def test_approval_and_capture_events_move_the_order_forward(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    order_id, _ = approved_order(receiver.user, integration, "30.00")
    assert order_state(sql_r, integration, order_id)[0] == "PAYER_ACTION_REQUIRED"
    [approved] = deliver(
        sandbox_control, receiver.endpoint_id, [order_events(sandbox_control, order_id)[APPROVED]["id"]]
    )
    assert outcome(approved) == "applied"
    assert order_state(sql_r, integration, order_id)[:2] == ("APPROVED", None)

    capture_id = captured_by_merchant(merchant, order_id)
    event = order_events(sandbox_control, order_id)[CAPTURED]
    assert [outcome(a) for a in deliver(sandbox_control, receiver.endpoint_id, [event["id"]], times=2)] == [
        "applied",
        None,  # the duplicate: acknowledged, changes nothing
    ]
    assert order_state(sql_r, integration, order_id) == ("COMPLETED", capture_id, 30)
    assert event_rows(sql_r, event["id"]) == [("applied", integration)]
    assert webhook_logs(sql_r, integration) == 2


def test_events_in_reverse_order_leave_the_order_completed(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    order_id, _ = approved_order(receiver.user, integration, "12.00")
    capture_id = captured_by_merchant(merchant, order_id)
    found = order_events(sandbox_control, order_id)
    attempts = deliver(
        sandbox_control, receiver.endpoint_id, [found[APPROVED]["id"], found[CAPTURED]["id"]], order="reversed"
    )
    # The late approval, confirmed as PayPal shows the order now, only fills in the payer: still COMPLETED.
    assert [outcome(a) for a in attempts] == ["applied", "applied"]
    assert order_state(sql_r, integration, order_id)[:2] == ("COMPLETED", capture_id)
    payer = sql_r.execute("SELECT payer_id FROM paypal_orders WHERE paypal_order_id = %s", [order_id]).fetchone()
    assert payer is not None
    assert payer[0] == found[APPROVED]["resource"]["payer"]["payer_id"]


@pytest.mark.parametrize("variant", NEGATIVE)
def test_an_order_event_not_genuinely_signed_changes_nothing(
    receiver: Receiver, sandbox_control: httpx.Client, sql_r: SQL, variant: str
) -> None:
    integration = paypal_integration(receiver.user)
    order_id, _ = approved_order(receiver.user, integration)
    event = order_events(sandbox_control, order_id)[APPROVED]
    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [event["id"]], variant=variant)
    assert attempt["status_code"] == 400, attempt["response_body"]
    assert json.loads(attempt["response_body"])["error"]["code"] == "invalid_signature"
    assert order_state(sql_r, integration, order_id)[0] == "PAYER_ACTION_REQUIRED"
    assert event_rows(sql_r, event["id"]) == []


def forged_capture(order_id: str, base: str) -> dict[str, Any]:
    """A PAYMENT.CAPTURE.COMPLETED for our approved order, about a capture PayPal never made."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    capture_id = f"FORGED{uuid.uuid4().hex[:11].upper()}"
    return {
        "id": f"WH-FORGED-{uuid.uuid4().hex[:12].upper()}",
        "event_type": CAPTURED,
        "create_time": now,
        "resource_type": "capture",
        "resource": {
            "id": capture_id,
            "status": "COMPLETED",
            "amount": {"currency_code": "USD", "value": "25.00"},
            "links": [{"href": f"{base}/v2/checkout/orders/{order_id}", "rel": "up", "method": "GET"}],
            "create_time": now,
            "update_time": now,
        },
    }


def test_a_forged_capture_under_a_genuine_signature_is_not_applied(
    receiver: Receiver, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    order_id, _ = approved_order(receiver.user, integration)
    genuine = order_events(sandbox_control, order_id)[APPROVED]
    headers = intercepted(sandbox_control, receiver, genuine)
    base = genuine["resource"]["links"][0]["href"].split("/v2/")[0]
    forged = forged_capture(order_id, base)
    answer = post_forged(receiver, headers, forged, genuine)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "unconfirmed_event"
    assert order_state(sql_r, integration, order_id)[:2] == ("PAYER_ACTION_REQUIRED", None)
    assert event_rows(sql_r, forged["id"]) == []
