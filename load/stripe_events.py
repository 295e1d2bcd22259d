"""Stripe webhook deliveries as Stripe makes them, for the load profile and the webhook benchmark."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any


def sign_stripe(payload: bytes, secret: str) -> str:
    """The `Stripe-Signature` header exactly as Stripe computes it: HMAC-SHA256 of `<t>.<body>`."""
    at = int(time.time())
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def charge_succeeded(event_id: str, charge_id: str) -> dict[str, Any]:
    """A `charge.succeeded` event about a paid charge of 10.00 USD (the service applies each new event id)."""
    return {
        "id": event_id,
        "object": "event",
        "type": "charge.succeeded",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": charge_id,
                "object": "charge",
                "status": "succeeded",
                "amount": 1000,
                "amount_refunded": 0,
                "refunded": False,
                "currency": "usd",
            }
        },
    }
