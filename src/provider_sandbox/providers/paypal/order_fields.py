"""Orders v2: the create request's checks, and errors in the orders spec's words.

The orders spec enumerates, per operation, each issue a 400/422 may name and the one description it
carries, so every detail here uses the spec's wording for its issue. Checked: `intent`,
`purchase_units` (1..10; `amount` with a supported currency and a positive value of at most two
decimals -- none for HUF, JPY, TWD -- one currency per order, unique `reference_id`s when several)
and the units' text fields; the return and cancel URLs of `payment_source.paypal.experience_context`
or the older `application_context`. Items, shipping and other payment sources are not simulated
(they are left out of the order); the cancel URL is never used (the simulated payer always approves).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from provider_sandbox.providers.paypal.errors import PayPalError

ORDERS_INFO = "https://developer.paypal.com/docs/api/orders/v2/#error-"
WORDING = {
    "INVALID_ARRAY_MAX_ITEMS": "The number of items in an array parameter is too large.",
    "INVALID_ARRAY_MIN_ITEMS": "The number of items in an array parameter is too small.",
    "INVALID_PARAMETER_SYNTAX": "The value of a field does not conform to the expected format.",
    "INVALID_STRING_LENGTH": "The value of a field is either too short or too long",
    "INVALID_PARAMETER_VALUE": "A parameter value is not valid.",
    "MISSING_REQUIRED_PARAMETER": "A required parameter is missing.",
    "MALFORMED_REQUEST_JSON": "The request JSON is not well formed.",
    "INVALID_RESOURCE_ID": "Specified resource ID does not exist. Please check the resource ID and try again.",
    "CANNOT_BE_ZERO_OR_NEGATIVE": (
        "Must be greater than zero. If the currency supports decimals, only two decimal place precision is supported."
    ),
    "DECIMAL_PRECISION": "If the currency supports decimals, only two decimal place precision is supported.",
    "DUPLICATE_REFERENCE_ID": "`reference_id` must be unique if multiple `purchase_unit` are provided.",
    "INVALID_CURRENCY_CODE": (
        "Currency code is invalid or is not currently supported. Please refer "
        "https://developer.paypal.com/api/rest/reference/currency-codes/ for list of supported currency codes."
    ),
    "MAX_VALUE_EXCEEDED": "Should be less than or equal to 999999999999999.99.",
    "MULTI_CURRENCY_ORDER": (
        "Multiple differing values of currency_code are not supported. "
        "Entire Order request must have the same currency_code."
    ),
    "ORDER_ALREADY_CAPTURED": "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
    "ORDER_ALREADY_AUTHORIZED": (
        "Order already authorized.If 'intent=AUTHORIZE' only one authorization per order is allowed."
    ),
    "ACTION_DOES_NOT_MATCH_INTENT": (
        "Order was created with an intent to 'CAPTURE'. Please use v2/checkout/orders/order_id/capture to complete "
        "the transaction or alternately Create an order with an intent of 'AUTHORIZE'."
    ),
    "PAYER_CANNOT_PAY": (
        "Payer cannot pay for this transaction. "
        "Please contact the payer to find other ways to pay for this transaction."
    ),
}
# ORDER_NOT_APPROVED is worded differently by capture and authorize.
NOT_APPROVED = {
    "capture": (
        "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url "
        "returned as part of the HATEOAS links within the Create Order call or provide a valid `payment_source` "
        "in the request."
    ),
    "authorize": (
        "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url "
        "returned as part of the HATEOAS links within the Create Order call."
    ),
}
VALUE = re.compile(r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$")  # the spec's money.value pattern
MAX_VALUE = Decimal("999999999999999.99")
# PayPal's supported currencies; these three take no decimals.
CURRENCIES = frozenset(
    {
        *("AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR"),
        *("MXN", "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD"),
    }
)
NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})
UNIT_TEXT = {"reference_id": 256, "description": 127, "custom_id": 127, "invoice_id": 127, "soft_descriptor": 22}
DEFAULT_RETURN_URL = "https://example.com/return"


def order_error(
    status: int,
    issue: str,
    field: str | None = None,
    value: Any = None,
    location: str = "body",
    description: str | None = None,
) -> PayPalError:
    """One orders 4xx with one detail; the description is the spec's wording for the issue unless given."""
    entry = {"issue": issue, "description": description or WORDING[issue]}
    if field is not None:
        entry.update(field=field, location=location)
    if isinstance(value, str):
        entry["value"] = value
    return PayPalError(status, details=[entry], info=ORDERS_INFO + issue)


def malformed() -> PayPalError:
    return order_error(400, "MALFORMED_REQUEST_JSON")


def order_not_found() -> PayPalError:
    return order_error(404, "INVALID_RESOURCE_ID", "order_id", location="path")


def _text(unit: dict[str, Any], name: str, where: str) -> str | None:
    value = unit.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise order_error(400, "INVALID_PARAMETER_SYNTAX", f"{where}/{name}")
    if not 1 <= len(value) <= UNIT_TEXT[name]:
        raise order_error(400, "INVALID_STRING_LENGTH", f"{where}/{name}", value)
    return value


def _required(node: dict[str, Any], name: str, where: str) -> Any:
    if node.get(name) is None:
        raise order_error(400, "MISSING_REQUIRED_PARAMETER", f"{where}/{name}")
    return node[name]


def _amount(unit: dict[str, Any], where: str) -> dict[str, str]:
    amount = _required(unit, "amount", where)
    if not isinstance(amount, dict):
        raise order_error(400, "INVALID_PARAMETER_SYNTAX", f"{where}/amount")
    currency = _required(amount, "currency_code", f"{where}/amount")
    value = _required(amount, "value", f"{where}/amount")
    if not isinstance(currency, str) or len(currency) != 3:
        raise order_error(400, "INVALID_STRING_LENGTH", f"{where}/amount/currency_code", currency)
    if not isinstance(value, str) or len(value) > 32 or not VALUE.match(value):
        raise order_error(400, "INVALID_PARAMETER_SYNTAX", f"{where}/amount/value", value)
    if currency not in CURRENCIES:
        raise order_error(422, "INVALID_CURRENCY_CODE", f"{where}/amount/currency_code", currency)
    number, places = Decimal(value), (0 if currency in NO_DECIMALS else 2)
    if number <= 0:
        raise order_error(422, "CANNOT_BE_ZERO_OR_NEGATIVE", f"{where}/amount/value", value)
    if -number.as_tuple().exponent > places:  # type: ignore[operator]  # finite: the pattern has no exponent
        raise order_error(422, "DECIMAL_PRECISION", f"{where}/amount/value", value)
    if number > MAX_VALUE:
        raise order_error(422, "MAX_VALUE_EXCEEDED", f"{where}/amount/value", value)
    return {"currency_code": currency, "value": f"{number:.{places}f}"}


def _unit(raw: Any, index: int) -> dict[str, Any]:
    where = f"/purchase_units/{index}"
    if not isinstance(raw, dict):
        raise order_error(400, "INVALID_PARAMETER_SYNTAX", where)
    unit: dict[str, Any] = {"reference_id": "default", "amount": _amount(raw, where)}
    for name in UNIT_TEXT:
        value = _text(raw, name, where)
        if value is not None:
            unit[name] = value
    return unit


def _units(data: dict[str, Any]) -> list[dict[str, Any]]:
    raw = _required(data, "purchase_units", "")
    if not isinstance(raw, list):
        raise order_error(400, "INVALID_PARAMETER_SYNTAX", "/purchase_units")
    if not 1 <= len(raw) <= 10:
        raise order_error(400, "INVALID_ARRAY_MIN_ITEMS" if not raw else "INVALID_ARRAY_MAX_ITEMS", "/purchase_units")
    units = [_unit(item, index) for index, item in enumerate(raw)]
    if len({unit["amount"]["currency_code"] for unit in units}) > 1:
        raise order_error(422, "MULTI_CURRENCY_ORDER", "/purchase_units/1/amount/currency_code")
    if len(units) > 1 and len({unit["reference_id"] for unit in units}) < len(units):
        raise order_error(422, "DUPLICATE_REFERENCE_ID", "/purchase_units/1/reference_id")
    return units


def _wallet(data: dict[str, Any]) -> Any:
    source = data.get("payment_source")
    return source.get("paypal") if isinstance(source, dict) else None


def _return_url(data: dict[str, Any]) -> str:
    """`payment_source.paypal.experience_context.return_url`, else the deprecated `application_context`'s."""
    wallet = _wallet(data)
    experience = wallet.get("experience_context") if isinstance(wallet, dict) else None
    contexts = (
        ("/payment_source/paypal/experience_context", experience),
        ("/application_context", data.get("application_context")),
    )
    for where, context in contexts:
        if isinstance(context, dict) and context.get("return_url") is not None:
            if not isinstance(context["return_url"], str):
                raise order_error(400, "INVALID_PARAMETER_SYNTAX", f"{where}/return_url")
            return str(context["return_url"])
    return DEFAULT_RETURN_URL


def order_request(data: Any) -> dict[str, Any]:
    """The checked create body: intent, purchase units, where approval returns, whether the wallet was named."""
    if not isinstance(data, dict):
        raise order_error(400, "MISSING_REQUIRED_PARAMETER" if data is None else "INVALID_PARAMETER_SYNTAX", "/")
    intent = _required(data, "intent", "")
    if intent not in ("CAPTURE", "AUTHORIZE"):
        raise order_error(400, "INVALID_PARAMETER_VALUE", "/intent", intent)
    return {
        "intent": intent,
        "purchase_units": _units(data),
        "return_url": _return_url(data),
        # Naming the PayPal wallet as the source makes PayPal ask for the payer's action (its `payer-action` link).
        "payer_action": isinstance(_wallet(data), dict),
    }
