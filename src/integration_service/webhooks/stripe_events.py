"""The shapes of the Stripe events the service reads: what it checks of a verified event before storing and
applying it, and the webhook's request body in the OpenAPI schema (the same models, so the two agree).

Only what the service reads is checked, and extra fields are kept: Stripe adds fields without notice. An
event whose signature verified but that does not fit is refused (400), never half-applied.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Stripe's events the service acts on; any other type is stored and answered "ignored".
ChargeEvent = Literal["charge.succeeded", "charge.failed", "charge.refunded"]
SubscriptionEvent = Literal[
    "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"
]
CHARGE_EVENTS: tuple[str, ...] = get_args(ChargeEvent)
SUBSCRIPTION_EVENTS: tuple[str, ...] = get_args(SubscriptionEvent)
# Text stored in PostgreSQL, which refuses NUL; Stripe's ids and names are short.
Text = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]
FreeText = Annotated[str, Field(max_length=5000, pattern=r"^[^\x00]*$")]
# Unix seconds up to the last second of year 9999: what a timestamp column (and Python's datetime) holds.
Seconds = Annotated[int, Field(strict=True, ge=0, le=253_402_300_799)]
MinorUnits = Annotated[int, Field(strict=True, ge=0, le=10**15)]
Reference = Text | dict[str, Any] | None  # an id, or the object itself when Stripe expanded it


class EventMalformed(Exception):
    """The body is not a Stripe event the service can read (its signature matched); the message says why."""


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class EventObject(_Shape):
    """The object an event is about (its fields depend on the type)."""


class EventData(_Shape):
    object: EventObject


class StripeEvent(_Shape):
    id: Text
    type: ChargeEvent | SubscriptionEvent | Text
    created: Seconds
    data: EventData


class Charge(_Shape):
    id: Text
    payment_intent: Reference = None
    customer: Reference = None
    amount: MinorUnits | None = None
    amount_refunded: MinorUnits | None = None
    currency: Text | None = None
    status: Text | None = None
    refunded: bool = False
    failure_code: Text | None = None
    failure_message: FreeText | None = None
    description: FreeText | None = None
    created: Seconds | None = None


class _Price(_Shape):
    id: Text | None = None


class _Item(_Shape):
    price: _Price | None = None
    current_period_end: Seconds | None = None


class _Items(_Shape):
    data: list[_Item] | None = None


class Subscription(_Shape):
    id: Text
    customer: Reference = None
    items: _Items | None = None
    status: Text | None = None
    cancel_at_period_end: bool | None = None
    current_period_end: Seconds | None = None
    canceled_at: Seconds | None = None
    created: Seconds | None = None


def read_event(verified: object) -> dict[str, Any]:
    """The event as Stripe sent it, once its envelope fits StripeEvent and PostgreSQL can store all of it;
    EventMalformed otherwise."""
    _checked(StripeEvent, verified)
    assert isinstance(verified, dict)
    text = json.dumps(verified, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        raise EventMalformed("the event holds a lone UTF-16 surrogate, which is no text") from None
    if "\\u0000" in text and _holds_nul(verified):  # the walk only when the escape shows up
        raise EventMalformed("the event holds a NUL character, which no text stored here may")
    return verified


def _holds_nul(node: object) -> bool:
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(_holds_nul(key) or _holds_nul(value) for key, value in node.items())
    if isinstance(node, list):
        return any(_holds_nul(value) for value in node)
    return False


def read_object(model: type[_Shape], obj: object) -> dict[str, Any]:
    """The event's object as `model` reads it (its fields as sent, none added); EventMalformed otherwise."""
    return _checked(model, obj).model_dump(exclude_unset=True)


def _checked(model: type[_Shape], value: object) -> _Shape:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the event"
        raise EventMalformed(f"{model.__name__}: {where}: {first['msg']}") from None


def request_body() -> dict[str, Any]:
    """The webhook's request body for the OpenAPI schema: a Stripe event, inlined (no $refs to resolve)."""
    schema = StripeEvent.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"required": True, "content": {"application/json": {"schema": inline(schema)}}}
