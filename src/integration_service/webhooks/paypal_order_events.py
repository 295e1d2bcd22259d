"""PayPal Orders v2 events: CHECKOUT.ORDER.APPROVED and PAYMENT.CAPTURE.COMPLETED, for paypal_events.py.

They are verified, confirmed and stored exactly as the sale events are (webhooks/paypal_events.py,
paypal_confirm.py): only a resource PayPal's API confirms changes a row, and the merge rules of
db/paypal_rows.py (ORDERS) keep a duplicate or late event from moving an order backwards.

- CHECKOUT.ORDER.APPROVED: the order, confirmed with `GET /v2/checkout/orders/{id}`; its row takes the
  order's status as PayPal shows it (APPROVED, or COMPLETED if it was captured since).
- PAYMENT.CAPTURE.COMPLETED: the capture, confirmed with `GET /v2/payments/captures/{id}`; the rows
  are the order's that has this capture id or that the capture's `up` link names.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, or_

from integration_service.db import paypal_rows
from integration_service.db.paypal_rows import ORDERS
from integration_service.db.schema import paypal_orders
from integration_service.providers.paypal_orders import capture_row, order_of_capture, order_row

ORDER_APPROVED = "CHECKOUT.ORDER.APPROVED"
CAPTURE_COMPLETED = "PAYMENT.CAPTURE.COMPLETED"
ORDER_EVENTS = frozenset({ORDER_APPROVED, CAPTURE_COMPLETED})


def rows_about(event_type: str, resource: dict[str, Any]) -> ColumnElement[bool]:
    """Which paypal_orders rows the event's resource is about."""
    if event_type == ORDER_APPROVED:
        return paypal_orders.c.paypal_order_id == str(resource["id"])
    keys = [paypal_orders.c.capture_id == str(resource["id"])]
    order_id = order_of_capture(resource)
    if order_id is not None:
        keys.append(paypal_orders.c.paypal_order_id == order_id)
    return or_(*keys)


def resource_path(event_type: str, resource: dict[str, Any]) -> tuple[str, str]:
    """(what the resource is, the PayPal API path that confirms it)."""
    resource_id = str(resource.get("id") or "")
    if event_type == ORDER_APPROVED:
        return f"order {resource_id}", f"/v2/checkout/orders/{resource_id}"
    return f"capture {resource_id}", f"/v2/payments/captures/{resource_id}"


def apply(connection: Connection, event_type: str, resource: dict[str, Any]) -> tuple[list[RowMapping], list[Any]]:
    """Merge the confirmed resource into its order rows: (the rows it is about, the integration ids changed)."""
    rows = list(paypal_rows.lock(connection, ORDERS, rows_about(event_type, resource)))
    new = order_row(resource) if event_type == ORDER_APPROVED else capture_row(resource)
    return rows, paypal_rows.merge(connection, ORDERS, rows, new)
