"""Checking the fields of a billing plan request (create, and the values of a PATCH), the way the
billing spec documents its 400 answers: a JSON pointer to the field, and one of the issues it lists
(MISSING_REQUIRED_PARAMETER, INVALID_PARAMETER_VALUE, INVALID_STRING_MAX_LENGTH, ...)."""

from __future__ import annotations

import re
from typing import Any

from provider_sandbox.providers.paypal.errors import bad_field, unprocessable

UNITS = ("DAY", "WEEK", "MONTH", "YEAR")
MAX_INTERVALS = {"DAY": 365, "WEEK": 52, "MONTH": 12, "YEAR": 1}  # the spec's table for interval_count
DECIMAL = re.compile(r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$")  # the spec's money value and percentage


def text(value: Any, where: str, low: int, high: int) -> str:
    if value is None:
        raise bad_field(where, "MISSING_REQUIRED_PARAMETER")
    if not isinstance(value, str):
        raise bad_field(where, "INVALID_PARAMETER_SYNTAX")
    if len(value) < low:
        raise bad_field(where, "INVALID_STRING_MIN_LENGTH", value)
    if len(value) > high:
        raise bad_field(where, "INVALID_STRING_MAX_LENGTH", value)
    return value


def integer(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_field(where, "INVALID_PARAMETER_SYNTAX")
    if value < low:
        raise bad_field(where, "INVALID_INTEGER_MIN_VALUE", value)
    if value > high:
        raise bad_field(where, "INVALID_INTEGER_MAX_VALUE", value)
    return value


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise bad_field(where, "INVALID_PARAMETER_SYNTAX")
    return value


def choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise bad_field(where, "INVALID_PARAMETER_VALUE", value if isinstance(value, str) else None)
    return str(value)


def obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        raise bad_field(where, "MISSING_REQUIRED_PARAMETER")
    if not isinstance(value, dict):
        raise bad_field(where, "INVALID_PARAMETER_SYNTAX")
    return value


def money(value: Any, where: str) -> dict[str, str]:
    amount = obj(value, where)
    currency = text(amount.get("currency_code"), f"{where}/currency_code", 3, 3)
    figure = text(amount.get("value"), f"{where}/value", 1, 32)
    if not DECIMAL.match(figure):
        raise bad_field(f"{where}/value", "INVALID_PARAMETER_SYNTAX", figure)
    return {"currency_code": currency, "value": figure}


def percentage(value: Any, where: str) -> str:
    figure = text(value, where, 1, 32)
    if not DECIMAL.match(figure):
        raise bad_field(where, "INVALID_PARAMETER_SYNTAX", figure)
    return figure


def taxes(value: Any, where: str = "/taxes") -> dict[str, Any]:
    raw = obj(value, where)
    inclusive = boolean(raw.get("inclusive", True), f"{where}/inclusive")
    return {"percentage": percentage(raw.get("percentage"), f"{where}/percentage"), "inclusive": inclusive}


def payment_preferences(value: Any, where: str = "/payment_preferences") -> dict[str, Any]:
    raw = obj(value, where)
    preferences: dict[str, Any] = {
        "auto_bill_outstanding": boolean(raw.get("auto_bill_outstanding", True), f"{where}/auto_bill_outstanding"),
        "setup_fee_failure_action": choice(
            raw.get("setup_fee_failure_action", "CANCEL"), f"{where}/setup_fee_failure_action", ("CONTINUE", "CANCEL")
        ),
        "payment_failure_threshold": integer(
            raw.get("payment_failure_threshold", 0), f"{where}/payment_failure_threshold", 0, 999
        ),
    }
    if "setup_fee" in raw:
        preferences["setup_fee"] = money(raw["setup_fee"], f"{where}/setup_fee")
    return preferences


def _frequency(value: Any, where: str) -> dict[str, Any]:
    raw = obj(value, where)
    unit = choice(raw.get("interval_unit"), f"{where}/interval_unit", UNITS)
    count = integer(raw.get("interval_count", 1), f"{where}/interval_count", 1, MAX_INTERVALS[unit])
    return {"interval_unit": unit, "interval_count": count}


def _cycle(value: Any, where: str) -> dict[str, Any]:
    raw = obj(value, where)
    tenure = choice(raw.get("tenure_type"), f"{where}/tenure_type", ("REGULAR", "TRIAL"))
    if raw.get("sequence") is None:
        raise bad_field(f"{where}/sequence", "MISSING_REQUIRED_PARAMETER")
    cycle: dict[str, Any] = {
        "frequency": _frequency(raw.get("frequency"), f"{where}/frequency"),
        "tenure_type": tenure,
        "sequence": integer(raw["sequence"], f"{where}/sequence", 1, 99),
        "total_cycles": integer(raw.get("total_cycles", 1), f"{where}/total_cycles", 0, 999),
    }
    if tenure == "REGULAR" or "pricing_scheme" in raw:  # a free trial needs no pricing scheme
        scheme = obj(raw.get("pricing_scheme"), f"{where}/pricing_scheme")
        price = money(scheme.get("fixed_price"), f"{where}/pricing_scheme/fixed_price")
        cycle["pricing_scheme"] = {"version": 1, "fixed_price": price}
    return cycle


def billing_cycles(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise bad_field("/billing_cycles", "MISSING_REQUIRED_PARAMETER")
    if not isinstance(value, list) or not 1 <= len(value) <= 12:
        raise bad_field("/billing_cycles", "INVALID_PARAMETER_VALUE")
    cycles = [_cycle(item, f"/billing_cycles/{index}") for index, item in enumerate(value)]
    _check_cycle_rules(cycles)
    return cycles


def _check_cycle_rules(cycles: list[dict[str, Any]]) -> None:
    """The plan-level rules the spec's 422 list names (its wordings)."""
    regular = [cycle for cycle in cycles if cycle["tenure_type"] == "REGULAR"]
    if any(cycle["tenure_type"] == "TRIAL" and cycle["total_cycles"] == 0 for cycle in cycles):
        raise unprocessable(
            "INVALID_TRIAL_BILLING_TOTAL_CYCLES", "Total cycles for trial billing must be greater than '0'."
        )
    if not regular:
        raise unprocessable("MISSING_REGULAR_BILLING_CYCLE", "Plan should have at least one regular billing cycle.")
    if len(regular) > 1:
        raise unprocessable(
            "MULTIPLE_REGULAR_BILLING_CYCLES_NOT_SUPPORTED", "Only one regular billing cycle is allowed."
        )
    if sorted(cycle["sequence"] for cycle in cycles) != list(range(1, len(cycles) + 1)):
        raise unprocessable(
            "INVALID_BILLING_CYCLE_SEQUENCE", "Billing cycle sequence should start with `1` and be consecutive."
        )
    if max(cycles, key=lambda cycle: cycle["sequence"])["tenure_type"] != "REGULAR":
        raise unprocessable(
            "INVALID_BILLING_CYCLE_SEQUENCE", "Trial Billing cycle should precede regular billing cycle."
        )
    currencies = {c["pricing_scheme"]["fixed_price"]["currency_code"] for c in cycles if "pricing_scheme" in c}
    if len(currencies) > 1:
        raise unprocessable("CURRENCY_MISMATCH", "All currency codes in the request should be of similar value.")


def plan_currency(plan: dict[str, Any]) -> str:
    """The currency a plan bills in (its regular cycle's)."""
    regular = next(cycle for cycle in plan["billing_cycles"] if cycle["tenure_type"] == "REGULAR")
    return str(regular["pricing_scheme"]["fixed_price"]["currency_code"])
