"""Genuinely signed Stripe deliveries the service cannot read: 400 `bad_request`, nothing stored, never a 500;
a signature that does not verify: 400 `invalid_signature` (issue 18: the fuzzer, signing its bodies, found a
signed JSON array answered 500 and a NUL inside an event answered an undocumented 422)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import psycopg
import pytest

from tests.fixtures.service import RunningService
from tests.integration_service.webhooks.test_stripe import signed

pytestmark = pytest.mark.db


def event(**changes: Any) -> dict[str, Any]:
    return {
        "id": f"evt_shape_{time.time_ns()}",
        "object": "event",
        "type": "invoice.created",
        "created": int(time.time()),
        "data": {"object": {"id": "in_1", "object": "invoice"}},
        **changes,
    }


def deliver(service: RunningService, payload: bytes, secret: str | None = None) -> httpx.Response:
    secret = secret or service.env["STRIPE_WEBHOOK_SECRETS"]
    return httpx.post(
        f"{service.url}/api/integrations/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": signed(payload, secret, int(time.time())), "Content-Type": "application/json"},
    )


def stored_events(database_url: str) -> int:
    with psycopg.connect(database_url) as sql:
        row = sql.execute("SELECT count(*) FROM webhook_events WHERE provider = 'stripe'").fetchone()
    assert row is not None
    return int(row[0])


UNREADABLE = {
    "a JSON array": b"[null, null]",
    "a JSON string": b'"evt"',
    "not JSON": b"{",
    "not UTF-8": b'{"id": "\xff"}',
    "no id": json.dumps({k: v for k, v in event().items() if k != "id"}).encode(),
    "created as text": json.dumps(event(created="1700000000")).encode(),
    "created past year 9999": json.dumps(event(created=10**15)).encode(),
    "data without its object": json.dumps(event(data={})).encode(),
    "a NUL in a nested key": json.dumps(event(data={"object": {"\u0000D": 1}})).encode(),
    "a lone surrogate": json.dumps(event(type="invoice.\ud800")).encode(),
    "a charge without an id": json.dumps(event(type="charge.succeeded", data={"object": {"amount": 1}})).encode(),
    "a charge's amount as text": json.dumps(
        event(type="charge.refunded", data={"object": {"id": "ch_1", "amount_refunded": "lots"}})
    ).encode(),
    "a subscription's items not a list": json.dumps(
        event(type="customer.subscription.updated", data={"object": {"id": "sub_1", "items": {"data": 7}}})
    ).encode(),
}


@pytest.mark.parametrize("payload", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_signed_event_the_service_cannot_read_is_refused_and_stores_nothing(
    service: RunningService, database_url: str, payload: bytes
) -> None:
    before = stored_events(database_url)
    answer = deliver(service, payload)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_request"
    assert stored_events(database_url) == before


def test_a_signature_that_does_not_verify_is_its_own_refusal(service: RunningService) -> None:
    answer = deliver(service, json.dumps(event()).encode(), secret="whsec_not_this_endpoints")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_signature"


def test_a_readable_charge_event_unknown_here_is_recorded_unmatched(service: RunningService) -> None:
    charge = {"id": f"ch_shape_{time.time_ns()}", "amount": 100, "refunded": False, "created": 1}
    answer = deliver(service, json.dumps(event(type="charge.succeeded", data={"object": charge})).encode())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "duplicate": False, "outcome": "unmatched"}


def test_the_schema_states_the_event_the_service_reads(service: RunningService) -> None:
    schema = httpx.get(f"{service.url}/openapi.json").json()
    body = schema["paths"]["/api/integrations/stripe/webhook"]["post"]["requestBody"]
    event_schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert set(event_schema["required"]) == {"id", "type", "created", "data"}
    assert event_schema["properties"]["created"]["maximum"] == 253_402_300_799
    assert "$ref" not in json.dumps(event_schema)
