"""Stripe's Subscription object, its items and the legacy Plan each item still carries (subscriptions.py
is the resource logic)."""

from __future__ import annotations

from typing import Any

from provider_sandbox.providers.stripe.store import new_id

_PERIODS = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}


# Over 60 lines: one literal, the Subscription object with the fields Stripe documents, in their order.
def subscription(
    created: int, customer_id: str, items: list[tuple[dict[str, Any], int]], params: dict[str, Any], status: str
) -> dict[str, Any]:
    sid = new_id("sub")
    first_price = items[0][0]
    recurring = first_price["recurring"]
    period_end = created + _PERIODS[recurring["interval"]] * int(recurring["interval_count"])
    # The billing period is the items' (API version 2025-03-31.basil took it off the subscription).
    item_objects = [
        {
            "id": new_id("si"),
            "object": "subscription_item",
            "created": created,
            "current_period_end": period_end,
            "current_period_start": created,
            "discounts": [],
            "metadata": {},
            "plan": _plan(price_obj),
            "price": price_obj,
            "quantity": quantity,
            "subscription": sid,
            "tax_rates": [],
        }
        for price_obj, quantity in items
    ]
    return {
        "id": sid,
        "object": "subscription",
        "application": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": created,
        # Flexible is the default billing mode since API version 2025-09-30.clover.
        "billing_mode": {"flexible": None, "type": "flexible", "updated_at": created},
        "billing_schedules": [],
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": first_price["currency"],
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": params.get("default_payment_method"),
        "description": params.get("description"),
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": item_objects,
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sid}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": params.get("metadata", {}),
        "pending_setup_intent": None,
        "pending_update": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "trial_end": None,
        "trial_start": None,
    }


def _plan(price: dict[str, Any]) -> dict[str, Any]:
    """The Plan view of a recurring price: Stripe still embeds it in every subscription item."""
    recurring = price["recurring"]
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": price["livemode"],
        "metadata": price["metadata"],
        "meter": recurring["meter"],
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": price["tiers_mode"],
        "transform_usage": None,
        "trial_period_days": recurring["trial_period_days"],
        "usage_type": recurring["usage_type"],
    }
