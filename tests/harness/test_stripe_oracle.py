"""The Stripe oracle: answers judged against the installed stripe SDK's own types (no sandbox needed)."""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any

import pytest
from stripe._error_object import ErrorObject

from harness.core.stripe_oracle import ERROR_TYPES, stripe_operation, stripe_problems


def customer(**fields: Any) -> dict[str, Any]:
    return {"id": "cus_1", "object": "customer", "created": 1, "livemode": False, **fields}


def test_a_minimal_customer_is_valid_and_each_required_field_is_asked_for() -> None:
    assert stripe_problems(200, customer(email=None, metadata={"crm": "7"})) == []
    assert stripe_problems(200, {"id": "cus_1", "object": "customer", "livemode": False}) == [
        "created: required by the SDK's Customer"
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (customer(planet="Mars"), "planet: not a field of the SDK's Customer"),
        (customer(created=None), "created: null, which the SDK does not allow here"),
        (customer(livemode="no"), "livemode: 'no' is not a bool"),
        (customer(tax_exempt="sometimes"), "tax_exempt: 'sometimes' is not one of ['exempt', 'none', 'reverse']"),
        (customer(address={"city": "Oslo", "planet": "Earth"}), "address.planet: not a field of the SDK's Address"),
        (customer(metadata={"crm": 7}), "metadata.crm: 7 is not a str"),
        ({"id": "x_1", "object": "gadget"}, "answer: `object` 'gadget' is no class of the SDK"),
    ],
)
def test_what_the_sdk_does_not_declare_is_named(body: dict[str, Any], problem: str) -> None:
    assert problem in stripe_problems(200, body)


def test_an_expanded_field_must_be_the_class_the_sdk_names() -> None:
    product = {"id": "prod_1", "object": "product"}
    assert stripe_problems(200, customer(default_source="card_1")) == []  # an id
    assert stripe_problems(200, customer(default_source=product)) == [
        "default_source: a product where the SDK expects Account or BankAccount or Card or Source"
    ]


def test_list_items_and_an_events_object_are_judged_as_their_own_classes() -> None:
    page = {"object": "list", "data": [customer(), customer(planet="Mars")], "has_more": False, "url": "/v1/customers"}
    assert stripe_problems(200, page) == ["data[1].planet: not a field of the SDK's Customer"]
    event = {"id": "evt_1", "object": "event", "data": {"object": customer(status="gone")}}
    assert "data.object.status: not a field of the SDK's Customer" in stripe_problems(200, event)


def test_a_deleted_object_carries_only_its_id() -> None:
    assert stripe_problems(200, {"id": "cus_1", "object": "customer", "deleted": True}) == []


def test_a_decimal_string_travels_as_a_string() -> None:
    price = {"id": "price_1", "object": "price", "unit_amount_decimal": 900}
    assert "unit_amount_decimal: a decimal_string travels as a string, not int" in stripe_problems(200, price)


def test_errors_need_the_envelope_and_one_of_the_sdks_error_types() -> None:
    assert stripe_problems(404, {"error": {"type": "invalid_request_error", "message": "No such customer"}}) == []
    assert stripe_problems(402, customer()) == ["a 402 answer without Stripe's error envelope"]
    assert stripe_problems(400, {"error": {"type": "oops", "message": "m", "hint": "h"}}) == [
        "error.hint: not a field of the SDK's ErrorObject",
        f"error.type: 'oops' is not one of {sorted(ERROR_TYPES)}",
    ]


def test_the_error_types_are_those_the_installed_sdk_documents() -> None:
    """ErrorObject types `type` as a plain str and names its values in the attribute's docstring."""
    body = ast.parse(inspect.getsource(ErrorObject)).body[0]
    assert isinstance(body, ast.ClassDef)
    statements = body.body
    index = next(
        i for i, s in enumerate(statements) if isinstance(s, ast.AnnAssign) and ast.unparse(s.target) == "type"
    )
    docstring = statements[index + 1]
    assert isinstance(docstring, ast.Expr)
    assert isinstance(docstring.value, ast.Constant)
    assert set(re.findall(r"`(\w+)`", str(docstring.value.value))) == ERROR_TYPES


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/v1/customers", "/v1/customers"),
        ("/v1/customers/cus_unknown", "/v1/customers/{id}"),
        ("/v1/payment_intents/pi_3Nf/confirm", "/v1/payment_intents/{id}/confirm"),
        ("/v1/customers/cus_1/sources/card_2", "/v1/customers/{id}/sources/{id}"),
        ("/v1/customers/search", "/v1/customers/search"),
        ("/v1/checkout/sessions/cs_1", "/v1/checkout/sessions/{id}"),
    ],
)
def test_stripe_paths_are_named_with_their_ids_as_placeholders(path: str, operation: str) -> None:
    assert stripe_operation(path) == operation
