"""PayPal's `GET /v1/notifications/webhooks-events/{event_id}` (webhooks-events.get): the event exactly as
the sandbox sent it, bearer-authenticated, an unknown id PayPal's 404; every answer held against the
notifications spec by the fidelity checks of paypal_helpers.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.provider_sandbox.paypal_helpers import API, Recorder, bearer, operation_of, paid, registered_webhook, token
from tests.provider_sandbox.receiver import Receiver
from tests.provider_sandbox.specs import load_json_spec

CONTROL = "/_sandbox/paypal"


@pytest.fixture
def webhook(http: httpx.Client, receiver: Receiver) -> Iterator[dict[str, Any]]:
    with registered_webhook(http, receiver.url, retry_delay_ms=10) as hook:
        yield hook


@pytest.fixture
def recorded(http: httpx.Client) -> Iterator[tuple[httpx.Client, Recorder]]:
    load_json_spec("paypal", "notifications_webhooks_v1.json")  # skips when the specs are absent
    recorder = Recorder()
    with httpx.Client(base_url=http.base_url, timeout=15.0, event_hooks={"response": [recorder]}) as client:
        yield client, recorder


def test_an_event_is_shown_exactly_as_it_was_sent(
    http: httpx.Client, webhook: dict[str, Any], receiver: Receiver
) -> None:
    access = token(http)
    sale_id = paid(http, access, "12.00")["transactions"][0]["related_resources"][0]["sale"]["id"]
    http.post(f"{CONTROL}/webhooks/drain")
    [sent] = [r for r in receiver.received if json.loads(r.body)["resource"]["id"] == sale_id]
    event = json.loads(sent.body)
    assert event["event_type"] == "PAYMENT.SALE.COMPLETED"

    shown = http.get(f"{API}/notifications/webhooks-events/{event['id']}", headers=bearer(access))
    assert shown.status_code == 200, shown.text
    assert shown.content == sent.body  # byte for byte what the receiver got
    assert shown.headers["paypal-debug-id"]
    self_link = next(item["href"] for item in event["links"] if item["rel"] == "self")
    assert http.get(self_link, headers=bearer(access)).json() == event  # the event's own `self` link


def test_the_event_needs_a_bearer_token(http: httpx.Client) -> None:
    access = token(http)
    paid(http, access)
    event_id = http.get(f"{CONTROL}/events").json()[-1]["id"]
    for headers in ({}, bearer("not-a-token")):
        refused = http.get(f"{API}/notifications/webhooks-events/{event_id}", headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["name"] == "AUTHENTICATION_FAILURE"


def test_an_unknown_event_id_is_paypals_404(http: httpx.Client) -> None:
    missing = http.get(f"{API}/notifications/webhooks-events/WH-0NOSUCHEVENT-0", headers=bearer(token(http)))
    assert missing.status_code == 404
    body = missing.json()
    assert (body["name"], body["message"]) == ("INVALID_RESOURCE_ID", "Resource id is invalid.")
    assert body["debug_id"] == missing.headers["paypal-debug-id"]
    assert set(body) == {"name", "message", "debug_id", "information_link"}


def test_every_answer_is_what_the_notifications_spec_documents(
    recorded: tuple[httpx.Client, Recorder], http: httpx.Client
) -> None:
    assert operation_of("GET", "/v1/notifications/webhooks-events/WH-1") is not None  # really checked
    client, recorder = recorded
    access = token(client)
    paid(client, access)
    event_id = http.get(f"{CONTROL}/events").json()[-1]["id"]
    client.get(f"{API}/notifications/webhooks-events/{event_id}", headers=bearer(access))
    client.get(f"{API}/notifications/webhooks-events/WH-UNKNOWN", headers=bearer(access))
    client.get(f"{API}/notifications/webhooks-events/{event_id}", headers=bearer("expired"))
    shown = [r for r in recorder.responses if "/webhooks-events/" in r.request.url.path]
    assert sorted(r.status_code for r in shown) == [200, 401, 404]
    assert recorder.problems() == []
