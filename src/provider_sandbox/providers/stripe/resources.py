"""Stripe v1 resources: customers, products, prices, payment intents, charges, refunds,
subscriptions and events. Each handler returns (status, object) or raises `StripeError`.

State changes emit the events Stripe documents (charge.succeeded/failed/refunded,
payment_intent.*, customer.subscription.created/updated/deleted, ...), delivered to webhooks.
"""

from __future__ import annotations

from typing import Any

from provider_sandbox.providers.stripe import objects as objects
from provider_sandbox.providers.stripe.store import Call, Emitter, Result, list_page
from provider_sandbox.providers.stripe.wire import (
    StripeError,
    as_bool,
    as_currency,
    as_int,
    as_metadata,
    as_str,
    invalid,
    missing,
)


def _listing(call: Call, object_type: str, url: str, **filters: str | None) -> Result:
    items = call.account.all(object_type)
    for name, value in filters.items():
        if value is not None:
            items = [obj for obj in items if obj.get(name) == value]
    return 200, list_page(call.account, items, call.params, url)


def _with_fields(call: Call, fields: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {name: as_str(call.params, name) for name in fields}
    values["metadata"] = as_metadata(call.params)
    return values


# --- customers ---------------------------------------------------------------------------------

_CUSTOMER_FIELDS = ("name", "email", "description", "phone")


async def create_customer(sim: Emitter, call: Call) -> Result:
    obj = call.account.add(objects.customer(call.account, call.now, _with_fields(call, _CUSTOMER_FIELDS)))
    sim.emit(call, call.account, "customer.created", obj)
    return 200, obj


async def get_customer(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("customer", call.path["id"])


async def update_customer(sim: Emitter, call: Call) -> Result:
    obj = call.account.get("customer", call.path["id"])
    previous: dict[str, Any] = {}
    for name in _CUSTOMER_FIELDS:
        value = as_str(call.params, name)
        if name in call.params and obj[name] != value:
            previous[name], obj[name] = obj[name], value
    metadata = as_metadata(call.params, obj["metadata"])
    if metadata != obj["metadata"]:
        previous["metadata"], obj["metadata"] = obj["metadata"], metadata
    if previous:
        sim.emit(call, call.account, "customer.updated", obj, previous)
    return 200, obj


async def delete_customer(sim: Emitter, call: Call) -> Result:
    obj = call.account.get("customer", call.path["id"])
    sim.emit(call, call.account, "customer.deleted", obj)
    obj["deleted"] = True
    return 200, {"id": obj["id"], "object": "customer", "deleted": True}


async def list_customers(sim: Emitter, call: Call) -> Result:
    items = [c for c in call.account.all("customer") if not c.get("deleted")]
    email = as_str(call.params, "email")
    if email is not None:
        items = [c for c in items if c["email"] == email]
    return 200, list_page(call.account, items, call.params, "/v1/customers")


# --- products and prices -----------------------------------------------------------------------


async def create_product(sim: Emitter, call: Call) -> Result:
    name = as_str(call.params, "name", required=True)
    assert name is not None
    obj = objects.product(call.now, name, as_metadata(call.params), as_str(call.params, "description"))
    return 200, call.account.add(obj)


async def get_product(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("product", call.path["id"])


async def list_products(sim: Emitter, call: Call) -> Result:
    return _listing(call, "product", "/v1/products")


def _recurring(call: Call) -> dict[str, Any] | None:
    raw = call.params.get("recurring")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid("Invalid hash: recurring", "recurring")
    interval = as_str(raw, "interval")
    if interval not in ("day", "week", "month", "year"):
        raise invalid("Invalid recurring[interval]: must be one of day, week, month, or year", "recurring[interval]")
    count = as_int(raw, "interval_count", minimum=1, default=1, param_name="recurring[interval_count]")
    return {  # no aggregate_usage: API version 2025-03-31.basil removed it
        "interval": interval,
        "interval_count": count,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


async def create_price(sim: Emitter, call: Call) -> Result:
    currency = as_currency(call.params)
    unit_amount = as_int(call.params, "unit_amount")
    if unit_amount is None:
        raise missing("unit_amount")
    product_id = as_str(call.params, "product")
    product_data = call.params.get("product_data")
    if product_id is not None:
        call.account.get("product", product_id, param="product")
    elif isinstance(product_data, dict) and as_str(product_data, "name"):
        product_id = call.account.add(objects.product(call.now, str(product_data["name"]), {}))["id"]
    else:
        raise invalid("You must specify either `product` or `product_data` when creating a price.", "product")
    assert currency is not None
    extra = {
        "metadata": as_metadata(call.params),
        "nickname": as_str(call.params, "nickname"),
        "lookup_key": as_str(call.params, "lookup_key"),
    }
    return 200, call.account.add(objects.price(call.now, product_id, currency, unit_amount, _recurring(call), extra))


async def get_price(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("price", call.path["id"])


async def list_prices(sim: Emitter, call: Call) -> Result:
    kind = as_str(call.params, "type")
    if kind not in (None, "one_time", "recurring"):
        raise invalid("Invalid type: must be one of one_time or recurring", "type")
    return _listing(call, "price", "/v1/prices", product=as_str(call.params, "product"), type=kind)


# --- payment intents and charges ---------------------------------------------------------------


async def create_payment_intent(sim: Emitter, call: Call) -> Result:
    amount = as_int(call.params, "amount", minimum=1)
    if amount is None:
        raise missing("amount")
    currency = as_currency(call.params)
    assert currency is not None
    customer_id = as_str(call.params, "customer")
    if customer_id is not None:
        call.account.get("customer", customer_id, param="customer")
    method = as_str(call.params, "payment_method")
    fields: dict[str, Any] = {
        "customer": customer_id,
        "description": as_str(call.params, "description"),
        "receipt_email": as_str(call.params, "receipt_email"),
        "payment_method": method,
        "metadata": as_metadata(call.params),
    }
    intent = call.account.add(objects.payment_intent(call.now, amount, currency, fields))
    sim.emit(call, call.account, "payment_intent.created", intent)
    if as_bool(call.params, "confirm"):
        return _confirm(sim, call, intent, method)
    return 200, intent


async def get_payment_intent(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("payment_intent", call.path["id"])


async def list_payment_intents(sim: Emitter, call: Call) -> Result:
    return _listing(call, "payment_intent", "/v1/payment_intents", customer=as_str(call.params, "customer"))


async def confirm_payment_intent(sim: Emitter, call: Call) -> Result:
    intent = call.account.get("payment_intent", call.path["id"])
    return _confirm(sim, call, intent, as_str(call.params, "payment_method"))


async def cancel_payment_intent(sim: Emitter, call: Call) -> Result:
    intent = call.account.get("payment_intent", call.path["id"])
    if intent["status"] in ("succeeded", "canceled"):
        raise StripeError(
            400,
            f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}.",
            code="payment_intent_unexpected_state",
        )
    intent.update(
        status="canceled", canceled_at=call.now, cancellation_reason=as_str(call.params, "cancellation_reason")
    )
    sim.emit(call, call.account, "payment_intent.canceled", intent)
    return 200, intent


def _confirm(sim: Emitter, call: Call, intent: dict[str, Any], method: str | None) -> Result:
    if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise StripeError(
            400,
            f"You cannot confirm this PaymentIntent because it has a status of {intent['status']}.",
            code="payment_intent_unexpected_state",
        )
    method = method or intent["payment_method"]
    if method is None:
        raise StripeError(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "Update the PaymentIntent with a payment method and then confirm it again.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    card = objects.TEST_CARDS.get(method)
    if card is None:
        raise StripeError(400, f"No such PaymentMethod: '{method}'", code="resource_missing", param="payment_method")
    charge = call.account.add(
        objects.charge(
            call.now,
            intent["amount"],
            intent["currency"],
            card,
            method,
            customer_id=intent["customer"],
            payment_intent_id=intent["id"],
            description=intent["description"],
            metadata=dict(intent["metadata"]),
        )
    )
    intent.update(payment_method=method, latest_charge=charge["id"])
    if card.decline_code is None:
        intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
        sim.emit(call, call.account, "charge.succeeded", charge)
        sim.emit(call, call.account, "payment_intent.succeeded", intent)
        return 200, intent
    error = {
        "charge": charge["id"],
        "code": card.error_code,
        "decline_code": card.decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{card.error_code.replace('_', '-')}",
        "message": card.message,
        "payment_method": objects.payment_method(call.now, method, card),
        "type": "card_error",
    }
    intent.update(status="requires_payment_method", last_payment_error=error)
    sim.emit(call, call.account, "charge.failed", charge)
    sim.emit(call, call.account, "payment_intent.payment_failed", intent)
    raise StripeError(
        402,
        card.message,
        type="card_error",
        code=card.error_code,
        decline_code=card.decline_code,
        charge=charge["id"],
        payment_intent=dict(intent),
        payment_method=error["payment_method"],
    )


async def get_charge(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("charge", call.path["id"])


async def list_charges(sim: Emitter, call: Call) -> Result:
    return _listing(
        call,
        "charge",
        "/v1/charges",
        customer=as_str(call.params, "customer"),
        payment_intent=as_str(call.params, "payment_intent"),
    )


# --- refunds -----------------------------------------------------------------------------------


async def create_refund(sim: Emitter, call: Call) -> Result:
    charge_id, intent_id = as_str(call.params, "charge"), as_str(call.params, "payment_intent")
    if (charge_id is None) == (intent_id is None):
        raise invalid("You must pass either `charge` or `payment_intent` (but not both).", "charge")
    if intent_id is not None:
        intent = call.account.get("payment_intent", intent_id, param="payment_intent")
        if intent["status"] != "succeeded" or intent["latest_charge"] is None:
            raise StripeError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="charge_not_refundable" if intent["latest_charge"] else "payment_intent_unexpected_state",
                param="payment_intent",
            )
        charge_id = intent["latest_charge"]
    assert charge_id is not None
    charge = call.account.get("charge", charge_id, param="charge")
    if charge["status"] != "succeeded":
        raise StripeError(
            400, f"Charge {charge_id} has failed and cannot be refunded.", code="charge_not_refundable", param="charge"
        )
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining == 0:
        raise StripeError(
            400, f"Charge {charge_id} has already been refunded.", code="charge_already_refunded", param="charge"
        )
    amount = as_int(call.params, "amount", minimum=1, default=remaining)
    assert amount is not None
    if amount > remaining:
        raise invalid(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            "amount",
            code="amount_too_large",
        )
    reason = as_str(call.params, "reason")
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
        raise invalid("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", "reason")
    refund = call.account.add(
        objects.refund(call.now, charge, amount, {"reason": reason, "metadata": as_metadata(call.params)})
    )
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    sim.emit(call, call.account, "refund.created", refund)
    sim.emit(call, call.account, "charge.refunded", charge, previous)
    return 200, refund


async def get_refund(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("refund", call.path["id"])


async def list_refunds(sim: Emitter, call: Call) -> Result:
    return _listing(
        call,
        "refund",
        "/v1/refunds",
        charge=as_str(call.params, "charge"),
        payment_intent=as_str(call.params, "payment_intent"),
    )


# --- events ------------------------------------------------------------------------------------


async def get_event(sim: Emitter, call: Call) -> Result:
    return 200, call.account.get("event", call.path["id"])


async def list_events(sim: Emitter, call: Call) -> Result:
    return _listing(call, "event", "/v1/events", type=as_str(call.params, "type"))
