"""PayPal Orders v2 test helpers: an order created (and captured) through the service, its stored row, and
the sandbox's events about an order or its capture."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.service import ApiUser
from tests.integration_service.paypal_helpers import SQL, URLS, approve

ORDERS = "/api/integrations/paypal/orders"


def create_order(user: ApiUser, integration: str, amount: str = "25.00", **extra: Any) -> httpx.Response:
    return user.client.post(
        ORDERS, json={"integrationId": integration, "amount": amount, "currency": "USD", **URLS, **extra}
    )


def approved_order(user: ApiUser, integration: str, amount: str = "25.00") -> tuple[str, str]:
    """An order created through the service and approved by the buyer: (order id, payer id)."""
    created = create_order(user, integration, amount)
    assert created.status_code == 201, created.text
    back = approve(created.json()["approvalUrl"])
    return created.json()["order"]["paypalOrderId"], back["PayerID"]


def capture(user: ApiUser, integration: str, order_id: str) -> httpx.Response:
    return user.client.post(f"{ORDERS}/{order_id}/capture", json={"integrationId": integration})


def order_state(sql: SQL, integration: str, order_id: str) -> tuple[Any, ...]:
    row = sql.execute(
        "SELECT status, capture_id, amount FROM paypal_orders WHERE integration_id = %s AND paypal_order_id = %s",
        [integration, order_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def order_events(control: httpx.Client, order_id: str) -> dict[str, dict[str, Any]]:
    """The sandbox's CHECKOUT.ORDER.APPROVED and PAYMENT.CAPTURE.COMPLETED about this order, by type."""
    found = {}
    for event in control.get("/paypal/events").json():
        resource = event["resource"]
        ups = [item["href"] for item in resource.get("links", []) if item["rel"] == "up"]
        if resource["id"] == order_id or any(href.endswith(f"/orders/{order_id}") for href in ups):
            found[event["event_type"]] = event
    return found
