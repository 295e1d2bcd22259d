"""PayPal Orders v2 objects as `paypal_orders` rows: an order (`GET /v2/checkout/orders/{id}`, the answers
to create and capture) and a capture (`GET /v2/payments/captures/{id}`, the resource of
PAYMENT.CAPTURE.* events), which names its order only through its `up` link.

An order's first purchase unit gives the amount; its first capture, once there is one, the capture id.
A capture says nothing of the order's status but what its own implies: a completed (or since refunded)
capture means the order was COMPLETED.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integration_service.providers.base import Record
from integration_service.providers.paypal import money, paypal_time

CAPTURED = frozenset({"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"})
_ORDER_HREF = re.compile(r"/v2/checkout/orders/([A-Za-z0-9-]{1,64})$")


def _first(items: Any) -> Mapping[str, Any]:
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}


def order_row(order: Mapping[str, Any]) -> Record:
    unit = _first(order.get("purchase_units"))
    amount = unit.get("amount") or {}
    capture = _first((unit.get("payments") or {}).get("captures"))
    moment = paypal_time(order.get("update_time") or order.get("create_time"))
    return {
        "paypal_order_id": str(order["id"]),
        "intent": order.get("intent"),
        "status": order.get("status"),
        "amount": money(amount.get("value")),
        "currency": amount.get("currency_code"),
        "payer_id": (order.get("payer") or {}).get("payer_id"),
        "capture_id": None if not capture else str(capture["id"]),
        "state_at": moment,
        "provider_updated_at": moment,
    }


def order_of_capture(capture: Mapping[str, Any]) -> str | None:
    """The order id in the capture's `up` link (None when it has none)."""
    for item in capture.get("links") or []:
        if isinstance(item, dict) and item.get("rel") == "up":
            found = _ORDER_HREF.search(str(item.get("href", "")).split("?")[0])
            if found:
                return found.group(1)
    return None


def capture_row(capture: Mapping[str, Any]) -> Record:
    """What a capture tells about its order's row: the capture id, and COMPLETED once it is captured."""
    moment = paypal_time(capture.get("update_time") or capture.get("create_time"))
    amount = capture.get("amount") or {}
    return {
        "capture_id": str(capture["id"]),
        "status": "COMPLETED" if capture.get("status") in CAPTURED else None,
        "amount": money(amount.get("value")),
        "currency": amount.get("currency_code"),
        "state_at": moment,
        "provider_updated_at": moment,
    }
