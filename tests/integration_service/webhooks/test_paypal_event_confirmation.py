"""PayPal events are confirmed as events: a forged body under a genuine event's id must not stand in for it.

The dedup is keyed on the body's event id. A forger holding one intercepted transmission (its headers)
can fit any body to its CRC32 (harness/webhook_forgery.py); if that body reuses a genuine event's id and
were stored, PayPal's own delivery of the event would be answered `duplicate` and never applied. So the
service asks PayPal for the event itself (`GET /v1/notifications/webhooks-events/{id}`) before applying
anything, and an `ignored` event (never confirmed) does not block a later delivery with its id.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.integration_service.paypal_helpers import (
    SQL,
    Merchant,
    Receiver,
    created_not_executed,
    deliver,
    event_rows,
    events,
    intercepted,
    merchant,
    payment_state,
    paypal_integration,
    post_forged,
    refund,
    sql_r,
    webhook_logs,
)

__all__ = ["merchant", "sql_r"]  # fixtures, used by name (`receiver` is in conftest.py)

pytestmark = pytest.mark.db


def stored_type(sql: SQL, event_id: str) -> str | None:
    row = sql.execute(
        "SELECT event_type FROM webhook_events WHERE provider = 'paypal' AND event_id = %s", [event_id]
    ).fetchone()
    return None if row is None else str(row[0])


def test_a_forged_ignored_type_under_a_genuine_id_does_not_stop_the_genuine_event(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment_id, sale_id = created_not_executed(receiver.user, integration, merchant, "40.00")
    [completed] = events(sandbox_control, sale_id, "PAYMENT.SALE.COMPLETED")
    headers = intercepted(sandbox_control, receiver, completed)

    # A type the service does not use: stored `ignored`, PayPal never asked.
    forged = {**completed, "event_type": "CUSTOMER.DISPUTE.CREATED"}
    answer = post_forged(receiver, headers, forged, completed)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "ignored"
    assert event_rows(sql_r, completed["id"]) == [("ignored", None)]

    # PayPal's own delivery of the event, with the same id, is processed afresh and applied.
    [genuine] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    assert genuine["status_code"] == 200, genuine["response_body"]
    assert json.loads(genuine["response_body"]) == {"received": True, "duplicate": False, "outcome": "applied"}
    assert payment_state(sql_r, integration, payment_id) == ("completed", 0, sale_id)
    assert event_rows(sql_r, completed["id"]) == [("applied", integration)]
    assert stored_type(sql_r, completed["id"]) == "PAYMENT.SALE.COMPLETED"  # the genuine row replaced the forged one

    # Applied once: a further delivery is a duplicate.
    [again] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    assert json.loads(again["response_body"])["duplicate"] is True
    assert webhook_logs(sql_r, integration) == 1


def test_a_forged_body_under_a_genuine_id_naming_another_sale_is_refused(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment_id, sale_id = created_not_executed(receiver.user, integration, merchant, "40.00")
    other_payment, other_sale = created_not_executed(receiver.user, integration, merchant, "15.00")
    [completed] = events(sandbox_control, sale_id, "PAYMENT.SALE.COMPLETED")
    [other_completed] = events(sandbox_control, other_sale, "PAYMENT.SALE.COMPLETED")
    headers = intercepted(sandbox_control, receiver, completed)

    # The genuine event's id and type, about another real sale of the merchant: PayPal would confirm that sale.
    forged = {**completed, "resource": other_completed["resource"]}
    answer = post_forged(receiver, headers, forged, completed)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "unconfirmed_event"
    assert completed["id"] in answer.json()["error"]["message"]
    assert event_rows(sql_r, completed["id"]) == []
    assert payment_state(sql_r, integration, other_payment) == ("created", 0, None)
    assert payment_state(sql_r, integration, payment_id) == ("created", 0, None)

    # Another state-changing type under the genuine id is refused the same way.
    denied = {**completed, "event_type": "PAYMENT.SALE.DENIED"}
    answer = post_forged(receiver, headers, denied, completed)
    assert answer.status_code == 422, answer.text
    assert event_rows(sql_r, completed["id"]) == []

    [genuine] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    assert json.loads(genuine["response_body"]) == {"received": True, "duplicate": False, "outcome": "applied"}
    assert payment_state(sql_r, integration, payment_id) == ("completed", 0, sale_id)
    assert payment_state(sql_r, integration, other_payment) == ("created", 0, None)


def test_an_event_id_paypal_does_not_know_is_refused(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    integration = paypal_integration(receiver.user)
    payment_id, sale_id = created_not_executed(receiver.user, integration, merchant, "20.00")
    [completed] = events(sandbox_control, sale_id, "PAYMENT.SALE.COMPLETED")
    headers = intercepted(sandbox_control, receiver, completed)

    # Everything true but the event id: PayPal never sent such an event.
    unknown = {**completed, "id": f"WH-{uuid.uuid4().hex[:17].upper()}-{uuid.uuid4().hex[:17].upper()}"}
    answer = post_forged(receiver, headers, unknown, completed)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "unconfirmed_event"
    assert "INVALID_RESOURCE_ID" in answer.json()["error"]["message"]
    assert event_rows(sql_r, unknown["id"]) == []
    assert payment_state(sql_r, integration, payment_id) == ("created", 0, None)

    # An id that could not go into PayPal's URL is refused without asking.
    crooked = {**completed, "id": "WH-1/../../v1/payments/sale/" + sale_id}
    answer = post_forged(receiver, headers, crooked, completed)
    assert answer.status_code == 422, answer.text
    assert event_rows(sql_r, crooked["id"]) == []


def _share_payment(sql: SQL, payment_id: str, owner: str, other: str) -> None:
    """Store `owner`'s payment row for `other` too, as a payments sync of the same REST app would."""
    sql.execute(
        "INSERT INTO paypal_payments (integration_id, user_id, paypal_payment_id, intent, state, amount, currency) "
        "SELECT %s, user_id, paypal_payment_id, intent, state, amount, currency FROM paypal_payments "
        "WHERE integration_id = %s AND paypal_payment_id = %s",
        [other, owner, payment_id],
    )


def _refuse_credentials(receiver: Receiver, integration: str) -> None:
    changed = receiver.user.client.patch(f"/api/integrations/{integration}", json={"apiSecret": "revoked-secret"})
    assert changed.status_code == 200, changed.text


def test_an_owner_whose_credentials_paypal_refuses_hands_over_to_the_next(
    receiver: Receiver, merchant: Merchant, sandbox_control: httpx.Client, sql_r: SQL
) -> None:
    first, second = sorted((paypal_integration(receiver.user), paypal_integration(receiver.user)), key=uuid.UUID)
    payment_id, sale_id = created_not_executed(receiver.user, first, merchant, "30.00")
    _share_payment(sql_r, payment_id, first, second)
    _refuse_credentials(receiver, first)  # the owner asked first: its REST app secret no longer works

    [completed] = events(sandbox_control, sale_id, "PAYMENT.SALE.COMPLETED")
    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [completed["id"]])
    assert attempt["status_code"] == 200, attempt["response_body"]
    assert json.loads(attempt["response_body"])["outcome"] == "applied"
    assert payment_state(sql_r, second, payment_id) == ("completed", 0, sale_id)
    assert payment_state(sql_r, first, payment_id) == ("completed", 0, sale_id)

    # With every owner's credentials refused, PayPal cannot be asked: refused, nothing stored.
    _refuse_credentials(receiver, second)
    refund(merchant, sale_id, "5.00")
    [refunded] = events(sandbox_control, sale_id, "PAYMENT.SALE.REFUNDED")
    [attempt] = deliver(sandbox_control, receiver.endpoint_id, [refunded["id"]])
    assert attempt["status_code"] == 422, attempt["response_body"]
    assert "could not be asked" in json.loads(attempt["response_body"])["error"]["message"]
    assert event_rows(sql_r, refunded["id"]) == []
    assert payment_state(sql_r, second, payment_id) == ("completed", 0, sale_id)
