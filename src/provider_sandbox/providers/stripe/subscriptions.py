"""Stripe subscriptions: create (customer + items[n][price]), retrieve, update, cancel, list.

Payment is not simulated: a subscription is `active` at once, `trialing` with trial_period_days,
and `incomplete` when its default_payment_method is a declining test card.
"""

from __future__ import annotations

from typing import Any

from provider_sandbox.providers.stripe import objects as objects
from provider_sandbox.providers.stripe.store import Call, Emitter, Result, list_page
from provider_sandbox.providers.stripe.subscription_objects import subscription
from provider_sandbox.providers.stripe.wire import StripeError, as_bool, as_int, as_metadata, as_str, invalid, missing

STATUSES = ("active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing", "paused")


def _items(call: Call) -> list[tuple[dict[str, Any], int]]:
    raw = call.params.get("items")
    if raw is None:
        raise missing("items")
    if not isinstance(raw, list) or not raw or not all(isinstance(i, dict) for i in raw):
        raise invalid("Invalid array: items must be an array of hashes, e.g. items[0][price]=price_...", "items")
    items = []
    for index, item in enumerate(raw):
        price_id = as_str(item, "price")
        if price_id is None:
            raise missing(f"items[{index}][price]")
        price = call.account.get("price", price_id, param=f"items[{index}][price]")
        if price["type"] != "recurring":
            raise invalid(
                "The price specified is set to `type=one_time` but this field only accepts prices "
                "with `type=recurring`.",
                f"items[{index}][price]",
            )
        quantity = as_int(item, "quantity", minimum=1, default=1, param_name=f"items[{index}][quantity]")
        assert quantity is not None
        items.append((price, quantity))
    if len({price["currency"] for price, _ in items}) > 1:
        raise invalid("All prices on a subscription must have the same currency.", "items")
    return items


async def create_subscription(sim: Emitter, call: Call) -> Result:
    customer_id = as_str(call.params, "customer", required=True)
    assert customer_id is not None
    call.account.get("customer", customer_id, param="customer")
    items = _items(call)
    method = as_str(call.params, "default_payment_method")
    card = objects.TEST_CARDS.get(method) if method else None
    if method is not None and card is None:
        raise StripeError(
            400, f"No such PaymentMethod: '{method}'", code="resource_missing", param="default_payment_method"
        )
    trial_days = as_int(call.params, "trial_period_days", minimum=1)
    status = "incomplete" if card is not None and card.decline_code else ("trialing" if trial_days else "active")
    fields = {
        "default_payment_method": method,
        "description": as_str(call.params, "description"),
        "metadata": as_metadata(call.params),
    }
    sub = subscription(call.now, customer_id, items, fields, status)
    if trial_days:
        sub.update(trial_start=call.now, trial_end=call.now + trial_days * 86400)
    call.account.add(sub)
    sim.emit(call, call.account, "customer.subscription.created", sub)
    return 200, sub


async def get_subscription(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("subscription", call.path["id"])


async def update_subscription(sim: Emitter, call: Call) -> Result:
    sub = call.account.get("subscription", call.path["id"])
    if sub["status"] == "canceled":
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.")
    previous: dict[str, Any] = {}
    metadata = as_metadata(call.params, sub["metadata"])
    if metadata != sub["metadata"]:
        previous["metadata"] = sub["metadata"]
    changes: dict[str, Any] = {"metadata": metadata}
    if "cancel_at_period_end" in call.params:
        changes["cancel_at_period_end"] = as_bool(call.params, "cancel_at_period_end")
        period_end = sub["items"]["data"][0]["current_period_end"]
        changes["cancel_at"] = period_end if changes["cancel_at_period_end"] else None
    if "description" in call.params:
        changes["description"] = as_str(call.params, "description")
    for name, value in changes.items():
        if sub[name] != value:
            previous.setdefault(name, sub[name])
    sub.update(changes)
    if previous:
        sim.emit(call, call.account, "customer.subscription.updated", sub, previous)
    return 200, sub


async def cancel_subscription(sim: Emitter, call: Call) -> Result:
    sub = call.account.get("subscription", call.path["id"])
    if sub["status"] == "canceled":
        raise StripeError(
            404, f"No such subscription: '{sub['id']}'", code="resource_missing", param="id"
        )  # Stripe no longer finds a canceled subscription to cancel
    sub.update(status="canceled", canceled_at=call.now, ended_at=call.now, cancel_at=None)
    sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
    sim.emit(call, call.account, "customer.subscription.deleted", sub)
    return 200, sub


async def list_subscriptions(sim: Emitter, call: Call) -> Result:
    status = as_str(call.params, "status")
    if status not in (None, "all", *STATUSES):
        raise invalid(f"Invalid status: must be one of all, {', '.join(STATUSES)}", "status")
    items = call.account.all("subscription")
    if status is None:
        items = [s for s in items if s["status"] != "canceled"]  # Stripe hides canceled ones by default
    elif status != "all":
        items = [s for s in items if s["status"] == status]
    customer = as_str(call.params, "customer")
    if customer is not None:
        items = [s for s in items if s["customer"] == customer]
    price = as_str(call.params, "price")
    if price is not None:
        items = [s for s in items if any(i["price"]["id"] == price for i in s["items"]["data"])]
    return 200, list_page(call.account, items, call.params, "/v1/subscriptions")
