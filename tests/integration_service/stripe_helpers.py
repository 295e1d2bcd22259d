"""Stripe test helpers: an integration on the sandbox's default account, an independent SDK client,
and the sandbox's webhook controls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import stripe

from harness.core.processes import ServerProcess
from tests.fixtures.service import ApiUser, RunningService

SANDBOX_KEY = "sk_test_sandbox_default_51Sandbox"  # the sandbox's default account (see its README)
SQL = psycopg.Connection[tuple[Any, ...]]


def stripe_integration(user: ApiUser, key: str = SANDBOX_KEY) -> str:
    created = user.client.post(
        "/api/integrations", json={"integrationType": "STRIPE", "integrationName": "payments", "apiKey": key}
    )
    assert created.status_code == 201, created.text
    integration_id: str = created.json()["integration"]["id"]
    return integration_id


@pytest.fixture
def merchant(sandbox: ServerProcess) -> Iterator[stripe.StripeClient]:
    """The merchant's own view of the account, through the official SDK, independent of the service."""
    http = stripe.HTTPXClient(allow_sync_methods=True)
    yield stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": f"{sandbox.url}/stripe"}, http_client=http)
    http.close()  # type: ignore[no-untyped-call]  # stripe's HTTPXClient.close is untyped


def customer_and_price(client: stripe.StripeClient) -> tuple[str, str]:
    customer = client.v1.customers.create(params={"email": "buyer@example.com"})
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
            "product_data": {"name": "CRM seat"},
        }
    )
    return customer.id, price.id


def endpoint_id(control: httpx.Client, service: RunningService) -> str:
    """The sandbox's webhook endpoint that delivers to this test session's service."""
    endpoints = control.get("/stripe/webhooks").json()
    found: str = next(e["id"] for e in endpoints if e["url"].startswith(service.url))
    return found


def drain(control: httpx.Client) -> None:
    control.post("/stripe/webhooks/drain").raise_for_status()


def fresh_event(control: httpx.Client, event_type: str, object_id: str) -> str:
    """A new event (new id) about the object's current state, not yet delivered."""
    created = control.post("/stripe/events", json={"type": event_type, "object_id": object_id, "deliver": False})
    created.raise_for_status()
    event_id: str = created.json()["id"]
    return event_id


def deliver(control: httpx.Client, endpoint: str, event_ids: list[str], **options: Any) -> list[dict[str, Any]]:
    delivered = control.post(
        "/stripe/webhooks/deliver", json={"endpoint_id": endpoint, "event_ids": event_ids, "retry": False, **options}
    )
    delivered.raise_for_status()
    attempts: list[dict[str, Any]] = delivered.json()["attempts"]
    return attempts


def event_ids(control: httpx.Client, event_type: str, object_id: str) -> list[str]:
    """The sandbox's events of this type about this object, oldest first."""
    events = control.get("/stripe/events", params={"type": event_type}).json()
    return [e["id"] for e in events if e["data"]["object"]["id"] == object_id]


def outcomes(sql: SQL, event_id: str) -> list[str]:
    rows = sql.execute("SELECT outcome FROM webhook_events WHERE provider = 'stripe' AND event_id = %s", [event_id])
    return [row[0] for row in rows.fetchall()]
