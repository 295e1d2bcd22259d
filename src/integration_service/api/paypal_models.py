"""Request and response models of the PayPal routes (camelCase on the wire)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    UrlConstraints,
    WithJsonSchema,
    model_validator,
)

from integration_service.api.models import JSON_INTEGER, ApiModel, Flag, InputModel, Page

# Documented as the string PayPal itself takes (a JSON number is accepted too): pydantic's own schema for a
# Decimal lets a fuzzer send digits no decimal parser reads (\d matches any script's digits).
AMOUNT_PATTERN = r"^([1-9][0-9]{0,6}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$"
# PayPal's currencies without minor units: a value with decimals is refused (DECIMAL_PRECISION).
ZERO_DECIMAL_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})
WHOLE_AMOUNT_PATTERN = r"^[1-9][0-9]{0,6}$"
_ZERO_DECIMAL_ENUM: list[JsonValue] = [*sorted(ZERO_DECIMAL_CURRENCIES)]


def _plain_amount(value: object) -> object:
    """A string amount must be written as the schema says: Decimal alone reads '+10', '1e2', '10_0' and
    other scripts' digits, none of which PayPal takes."""
    if isinstance(value, str) and not re.fullmatch(AMOUNT_PATTERN, value):
        raise ValueError("must be written like 10.50: ASCII digits, at most two decimals, no sign or exponent")
    return value


def paypal_value(amount: Decimal, currency: str) -> str:
    """The amount as PayPal's `value`/`total` strings take it: two decimals, none for a zero-decimal currency."""
    return f"{amount:.0f}" if currency in ZERO_DECIMAL_CURRENCIES else f"{amount:.2f}"


Amount = Annotated[
    Decimal,
    BeforeValidator(_plain_amount),
    Field(gt=0, le=Decimal("9999999.99"), max_digits=9, decimal_places=2),
    # The example fits every currency (10.50 is no JPY amount): Schemathesis sends examples as they are.
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["25"]}),
]
# The currencies PayPal's REST APIs take (developer.paypal.com/api/rest/reference/currency-codes/): any
# other code is PayPal's INVALID_CURRENCY_CODE, refused here before PayPal is asked.
Currency = Literal[
    "AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR",
    "MXN", "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD",
]  # fmt: skip
Text127 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=127, pattern=r"^[^\x00]*$")]
WebUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]
# Control characters named outright: `\s` is Unicode whitespace to the validator (U+0085 included) but not to a
# JSON Schema (ECMA) reader of the pattern, which would then send such an address as schema-valid.
_EMAIL_PART = r"[^@\s\x00-\x1f\x7f-\x9f]+"
Email = Annotated[str, StringConstraints(max_length=254, pattern=rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$")]
# PayPal ids are letters, digits and dashes (PAYID-..., P-..., I-...); anything else never reaches a URL.
PayPalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]
PATH_ID = r"^[A-Za-z0-9-]{1,64}$"


class _ForIntegration(InputModel):
    integration_id: uuid.UUID = Field(description="A PAYPAL integration of yours")


class _Priced(_ForIntegration):
    """An amount in a currency: whole in a currency without minor units (PayPal refuses 1000.50 JPY)."""

    # The rule across the two fields, stated in the schema too (if/then), so that a client or a fuzzer
    # reading it sends whole amounts in those currencies.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"currency": {"enum": _ZERO_DECIMAL_ENUM}}, "required": ["currency"]},
            "then": {"properties": {"amount": {"type": "string", "pattern": WHOLE_AMOUNT_PATTERN}}},
        }
    )
    amount: Amount
    currency: Currency = Field(description="ISO 4217 code, e.g. USD (HUF, JPY and TWD: whole amounts)")

    @model_validator(mode="after")
    def _whole_where_no_minor_units(self) -> Self:
        if self.currency in ZERO_DECIMAL_CURRENCIES and self.amount != self.amount.to_integral_value():
            raise ValueError(f"amount: {self.currency} has no minor units; send a whole amount")
        return self


class PaymentCreate(_Priced):
    amount: Amount = Field(description="The total, at most two decimals, e.g. 10.50")
    description: Text127 | None = None
    return_url: WebUrl = Field(description="Where PayPal sends the buyer after approval (with paymentId, PayerID)")
    cancel_url: WebUrl = Field(description="Where PayPal sends the buyer who cancels")


class PaymentExecute(_ForIntegration):
    payer_id: PayPalId = Field(description="The PayerID PayPal appended to the return URL")


class PlanCreate(_Priced):
    product_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{6,50}$")] = Field(
        description="The catalog product the plan sells (PROD-...)"
    )
    name: Text127
    description: Text127 | None = None
    amount: Amount = Field(description="Price per billing cycle")
    interval_unit: Literal["DAY", "WEEK", "MONTH", "YEAR"] = "MONTH"
    interval_count: Annotated[int, Field(ge=1, le=365), JSON_INTEGER] = 1
    total_cycles: Annotated[int, Field(ge=0, le=999), JSON_INTEGER] = Field(
        default=0, description="0 = until cancelled"
    )
    activate: Flag = Field(default=True, description="Activate the plan right after creating it")


class PlanActivate(_ForIntegration):
    pass


class SubscriptionCreate(_ForIntegration):
    # billing_subscriptions_v1.json: plan_id 3 to 50 characters (PayPal refuses "0" as INVALID_PARAMETER_SYNTAX).
    plan_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{3,50}$")]
    subscriber_email: Email | None = None
    custom_id: Text127 | None = Field(default=None, description="Your own reference, e.g. the CRM account id")
    return_url: WebUrl
    cancel_url: WebUrl


class SubscriptionCancel(_ForIntegration):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] = Field(
        description="Shown to the subscriber"
    )


class OrderCreate(_Priced):
    amount: Amount = Field(description="The order's total, at most two decimals, e.g. 10.50")
    description: Text127 | None = None
    custom_id: Text127 | None = Field(default=None, description="Your own reference, e.g. the CRM deal id")
    return_url: WebUrl = Field(description="Where PayPal sends the buyer after approval (with token, PayerID)")
    cancel_url: WebUrl = Field(description="Where PayPal sends the buyer who cancels")


class OrderCapture(_ForIntegration):
    pass


class PayPalOrder(ApiModel):
    integration_id: uuid.UUID
    paypal_order_id: str
    intent: str | None
    status: str | None
    amount: Decimal | None
    currency: str | None
    payer_id: str | None
    capture_id: str | None
    state_at: datetime | None
    provider_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OrderEnvelope(ApiModel):
    order: PayPalOrder


class OrderCreated(OrderEnvelope):
    approval_url: str = Field(description="Send the buyer here to approve the order")


class PayPalPayment(ApiModel):
    integration_id: uuid.UUID
    paypal_payment_id: str
    sale_id: str | None
    intent: str | None
    state: str | None
    amount: Decimal | None
    currency: str | None
    payer_id: str | None
    refunded_amount: Decimal
    state_at: datetime | None
    provider_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PayPalSubscription(ApiModel):
    integration_id: uuid.UUID
    paypal_subscription_id: str
    plan_id: str | None
    status: str | None
    subscriber_email: str | None
    start_time: datetime | None
    state_at: datetime | None
    provider_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PaymentEnvelope(ApiModel):
    payment: PayPalPayment


class PaymentCreated(PaymentEnvelope):
    approval_url: str = Field(description="Send the buyer here to approve the payment")


class SubscriptionEnvelope(ApiModel):
    subscription: PayPalSubscription


class SubscriptionCreated(SubscriptionEnvelope):
    approval_url: str = Field(description="Send the subscriber here to approve the subscription")


class PayPalPlan(ApiModel):
    id: str
    product_id: str | None = None
    name: str | None = None
    status: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None

    @classmethod
    def from_paypal(cls, plan: dict[str, Any]) -> PayPalPlan:
        return cls.model_validate({key: plan.get(key) for key in cls.model_fields})


class PlanEnvelope(ApiModel):
    plan: PayPalPlan


class PaymentList(Page):
    payments: list[PayPalPayment]


class SubscriptionList(Page):
    subscriptions: list[PayPalSubscription]


class WebhookAck(ApiModel):
    received: bool = True
    duplicate: bool = False
    outcome: Literal["applied", "ignored", "unmatched"] | None = Field(
        default=None, description="What the event did (absent for a duplicate)"
    )
