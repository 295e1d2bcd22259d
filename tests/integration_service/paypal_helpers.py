"""PayPal test helpers: integrations on the sandbox's REST app, the buyer's approval step, the merchant's
own API access (independent of the service), and the sandbox's webhook controls.

`receiver` is a second service process with its own database, whose sandbox webhook receives NO
background deliveries (it subscribes to no event type): each event reaches it only when a test
delivers it, as often, in the order and with the signature variant the test chooses.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from harness.core.database import create_database, drop_database
from harness.core.processes import ServerProcess, free_port
from harness.stack.local import sandbox_service_env, service_process
from harness.stack.webhook_forgery import crc32_forgery
from integration_service.db import migrations
from integration_service.security.api_tokens import issue_token_at
from tests.fixtures.service import FAST_RETRIES, ApiUser, RunningService, isolated_env

CLIENT_ID, CLIENT_SECRET = "sandbox-paypal-client", "sandbox-paypal-secret"  # the sandbox's default REST app
SQL = psycopg.Connection[tuple[Any, ...]]
NEVER = "SANDBOX.NEVER.SENT"  # an event type no API call emits
URLS = {"returnUrl": "https://crm.example/return", "cancelUrl": "https://crm.example/cancel"}


def paypal_integration(user: ApiUser, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    created = user.client.post(
        "/api/integrations",
        json={
            "integrationType": "PAYPAL",
            "integrationName": f"paypal-{uuid.uuid4().hex[:6]}",
            "apiKey": client_id,
            "apiSecret": secret,
        },
    )
    assert created.status_code == 201, created.text
    integration_id: str = created.json()["integration"]["id"]
    return integration_id


def approve(approval_url: str, payer: str | None = None) -> dict[str, str]:
    """Follow the approval link as the buyer's browser would; the return URL's parameters."""
    url = f"{approval_url}&sandbox_payer={payer}" if payer else approval_url
    response = httpx.get(url, follow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["location"]).query).items()}


class Merchant:
    """The merchant's own access to the PayPal API (the sandbox), not through the service."""

    def __init__(self, sandbox_url: str) -> None:
        self.http = httpx.Client(base_url=f"{sandbox_url}/paypal", timeout=30)
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        answer = self.http.post(
            "/v1/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        )
        answer.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body)

    def every_payment_id(self) -> list[str]:
        ids: list[str] = []
        params: dict[str, Any] = {"count": 20}
        while True:
            page = self.get("/v1/payments/payment", **params)
            ids += [payment["id"] for payment in page["payments"]]
            if not page.get("next_id"):
                return ids
            params["start_id"] = page["next_id"]


@pytest.fixture
def merchant(sandbox: ServerProcess) -> Iterator[Merchant]:
    client = Merchant(sandbox.url)
    yield client
    client.http.close()


def main_endpoint(service: RunningService) -> str:
    return service.env["PAYPAL_WEBHOOK_ID"]


def drain(control: httpx.Client) -> None:
    control.post("/paypal/webhooks/drain").raise_for_status()


def events(control: httpx.Client, resource_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
    """Every event the sandbox emitted about this sale / payment / subscription id, oldest first."""
    found = []
    for event in control.get("/paypal/events").json():
        resource = event["resource"]
        about = {resource.get("id"), resource.get("sale_id"), resource.get("parent_payment")}
        if resource_id in about and event_type in (None, event["event_type"]):
            found.append(event)
    return found


def deliver(control: httpx.Client, endpoint_id: str, event_ids: list[str], **options: Any) -> list[dict[str, Any]]:
    answer = control.post(
        "/paypal/webhooks/deliver", json={"endpoint_id": endpoint_id, "event_ids": event_ids, **options}
    )
    assert answer.status_code == 200, answer.text
    attempts: list[dict[str, Any]] = answer.json()["attempts"]
    return attempts


@dataclass
class Receiver:
    """A service with its own database and a sandbox webhook only tests deliver to."""

    url: str
    endpoint_id: str
    database_url: str
    user: ApiUser
    log_path: Path

    def sql(self) -> SQL:
        return psycopg.connect(self.database_url, autocommit=True)


# Session-scoped, and registered once in webhooks/conftest.py: one receiver per worker serves every module
# (each test makes its own integration and events, so they share it as they share the main service).
@pytest.fixture(scope="session")
def receiver(
    database_server_url: str, sandbox: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Receiver]:
    name = f"test_paypal_{uuid.uuid4().hex[:10]}"
    database_url = create_database(database_server_url, name)
    migrations.upgrade(database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=30) as control:
        registered = control.post(
            "/paypal/webhooks",
            json={"url": f"{url}/api/integrations/paypal/webhook", "enabled_events": [NEVER], "max_attempts": 1},
        )
        registered.raise_for_status()
    endpoint_id = registered.json()["webhook_id"]
    env = isolated_env(**sandbox_service_env(sandbox.url), PAYPAL_WEBHOOK_ID=endpoint_id, **FAST_RETRIES)
    process = service_process(database_url, tmp_path_factory.mktemp("paypal-receiver"), port=port, env=env).start()
    token = issue_token_at(database_url, f"user-{uuid.uuid4().hex[:10]}")
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    try:
        yield Receiver(url, endpoint_id, database_url, ApiUser("receiver", token, client), process.log_path)
    finally:
        client.close()
        process.stop()
        with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=30) as control:
            control.delete(f"/paypal/webhooks/{endpoint_id}")
        drop_database(database_server_url, name)


def paid_through(user: ApiUser, integration_id: str, total: str = "25.00", payer: str | None = None) -> dict[str, Any]:
    """Create a payment through the service, approve it as the buyer, execute it through the service."""
    created = user.client.post(
        "/api/integrations/paypal/payments",
        json={
            "integrationId": integration_id,
            "amount": total,
            "currency": "USD",
            "description": "CRM order",
            "returnUrl": "https://crm.example/paypal/return",
            "cancelUrl": "https://crm.example/paypal/cancel",
        },
    )
    assert created.status_code == 201, created.text
    params = approve(created.json()["approvalUrl"], payer)
    executed = user.client.post(
        f"/api/integrations/paypal/payments/{created.json()['payment']['paypalPaymentId']}/execute",
        json={"integrationId": integration_id, "payerId": params["PayerID"]},
    )
    assert executed.status_code == 200, executed.text
    payment: dict[str, Any] = executed.json()["payment"]
    return payment


def payment_state(sql: SQL, integration_id: str, payment_id: str) -> tuple[Any, ...]:
    row = sql.execute(
        "SELECT state, refunded_amount, sale_id FROM paypal_payments "
        "WHERE integration_id = %s AND paypal_payment_id = %s",
        [integration_id, payment_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def event_rows(sql: SQL, event_id: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in sql.execute(
            "SELECT outcome, integration_id::text FROM webhook_events WHERE provider = 'paypal' AND event_id = %s",
            [event_id],
        ).fetchall()
    ]


@pytest.fixture
def sql_r(receiver: Receiver) -> Iterator[SQL]:
    """The receiver's database, autocommit."""
    with receiver.sql() as connection:
        yield connection


def refund(merchant: Merchant, sale_id: str, total: str | None = None) -> dict[str, Any]:
    body = {"amount": {"total": total, "currency": "USD"}} if total else {}
    answer = merchant.post(f"/v1/payments/sale/{sale_id}/refund", body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def created_not_executed(user: ApiUser, integration: str, merchant: Merchant, total: str) -> tuple[str, str]:
    """A payment the service created (row `created`), executed by the merchant directly: its events
    are the only way the row learns what happened."""
    created = user.client.post(
        "/api/integrations/paypal/payments",
        json={"integrationId": integration, "amount": total, "currency": "USD", **URLS},
    )
    assert created.status_code == 201, created.text
    payment_id = created.json()["payment"]["paypalPaymentId"]
    back = approve(created.json()["approvalUrl"])
    executed = merchant.post(f"/v1/payments/payment/{payment_id}/execute", {"payer_id": back["PayerID"]})
    assert executed.status_code == 200, executed.text
    sale_id = executed.json()["transactions"][0]["related_resources"][0]["sale"]["id"]
    return payment_id, sale_id


def webhook_logs(sql: SQL, integration: str) -> int:
    row = sql.execute(
        "SELECT count(*) FROM integrations_sync_logs WHERE integration_id = %s AND sync_type = 'webhook'",
        [integration],
    ).fetchone()
    assert row is not None
    return int(row[0])


def genuine_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()  # what the sandbox sends, byte for byte


def intercepted(control: httpx.Client, receiver: Receiver, event: dict[str, Any]) -> dict[str, str]:
    """The headers of a genuine transmission of `event` that never reached the service (the forger's)."""
    [taken] = deliver(control, receiver.endpoint_id, [event["id"]], variant="intercepted")
    assert taken["status_code"] is None  # never reached the service: the attacker holds a fresh transmission
    headers: dict[str, str] = taken["headers"]
    return headers


def post_forged(
    receiver: Receiver, headers: dict[str, str], forged: dict[str, Any], genuine: dict[str, Any]
) -> httpx.Response:
    """`forged` posted under a genuine transmission's headers, its CRC32 matched to the `genuine` event's body."""
    return httpx.post(
        f"{receiver.url}/api/integrations/paypal/webhook",
        content=crc32_forgery(forged, zlib.crc32(genuine_body(genuine))),
        headers={**headers, "Content-Type": "application/json"},
        timeout=30,
    )
