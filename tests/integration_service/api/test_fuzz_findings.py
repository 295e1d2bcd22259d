"""What Schemathesis found in the service, each pinned by a test (see contract/schemathesis.toml)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from integration_service.api.paypal_models import PaymentCreate
from integration_service.app import create_app
from integration_service.settings import Settings
from tests.fixtures.service import ApiUser

pytestmark = pytest.mark.db


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/integrations", "GET, POST"),
        ("/api/integrations/00000000-0000-0000-0000-000000000000", "DELETE, GET, PATCH"),
    ],
)
def test_405_allow_header_names_every_method_of_the_path(
    make_user: Callable[[], ApiUser], path: str, allowed: str
) -> None:
    response = make_user().client.put(path, json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/integrations/logs", "until"),
        ("/api/integrations/logs", "since"),
        ("/api/integrations/xero/invoices", "updatedSince"),
    ],
)
@pytest.mark.parametrize("number", ["0.5", "1700000000", "-3"])
def test_date_time_parameters_refuse_numbers(
    make_user: Callable[[], ApiUser], path: str, parameter: str, number: str
) -> None:
    response = make_user().client.get(path, params={parameter: number})
    assert response.status_code == 422, response.text
    assert "ISO 8601" in response.text


def test_date_time_parameters_accept_iso_8601(make_user: Callable[[], ApiUser]) -> None:
    client = make_user().client
    assert client.get("/api/integrations/logs", params={"until": "2030-01-31T00:00:00Z"}).status_code == 200
    assert client.get("/api/integrations/xero/invoices", params={"updatedSince": "2020-01-31"}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/integrations",
        "/api/integrations/logs",
        "/api/integrations/xero/invoices",
        "/api/integrations/paypal/payments",
    ],
)
@pytest.mark.parametrize("spelling", ["0.0", "1.0", " 1", "+1", "1_0", "1e0"])
def test_integer_parameters_are_their_decimal_digits_alone(
    make_user: Callable[[], ApiUser], path: str, spelling: str
) -> None:
    """Issue 18's independent fuzz run: `?offset=0.0` was read as 0 (pydantic's lax integers), though the schema
    says integer."""
    client = make_user().client
    refused = client.get(path, params={"offset": spelling})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["field"] == "query.offset"
    assert client.get(path, params={"offset": "1", "limit": "10"}).status_code == 200


def test_every_integer_parameter_states_its_bounds_in_json_schema_words() -> None:
    """The digits-only check must not cost the schema its bounds (placed before Query(...), it turned
    minimum/maximum into pydantic's ge/le, and the fuzzer sent limit=-1586 as schema-valid)."""
    schema = create_app(Settings(stage="local", database_url="postgresql://nobody@127.0.0.1:1/none")).openapi()
    integers = [
        (path, parameter["name"], parameter["schema"])
        for path, item in schema["paths"].items()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["schema"].get("type") == "integer"
    ]
    assert len(integers) >= 10
    for path, name, parameter in integers:
        assert {"ge", "le"}.isdisjoint(parameter), (path, name, parameter)
        assert {"minimum", "maximum"} <= parameter.keys(), (path, name, parameter)


def test_update_schema_does_not_offer_null_where_null_is_refused() -> None:
    schema = create_app(Settings(stage="local", database_url="postgresql://nobody@127.0.0.1:1/none")).openapi()
    properties = schema["components"]["schemas"]["IntegrationUpdate"]["properties"]
    for name in ("integrationName", "isActive", "customData"):
        assert "anyOf" not in properties[name], properties[name]
        assert properties[name].get("type") != "null"
    assert any(option.get("type") == "null" for option in properties["apiKey"]["anyOf"])  # null removes a secret


NAMES = [
    "\r\U0001f600" + "*" * 199,  # ST201: 201 characters, 200 once the \r is stripped
    "x" * 200,
    "  padded  ",
    "\u3000\ufeff",  # whitespace to JSON Schema's \s (not all of it to Python's)
    "\x1c",  # whitespace to Python's str.strip(), not to JSON Schema's \s
    "\x85",  # NEL: the same
    "a\x00b",
    "",
]


@pytest.mark.parametrize("name", NAMES, ids=repr)
def test_a_name_is_accepted_exactly_when_the_schema_says_it_is_valid(
    make_user: Callable[[], ApiUser], name: str
) -> None:
    schema = create_app(Settings(stage="local", database_url="postgresql://nobody@127.0.0.1:1/none")).openapi()
    rule = schema["components"]["schemas"]["IntegrationCreate"]["properties"]["integrationName"]
    valid = rule["minLength"] <= len(name) <= rule["maxLength"] and re.search(rule["pattern"], name) is not None
    created = make_user().client.post("/api/integrations", json={"integrationType": "XERO", "integrationName": name})
    assert created.status_code == (201 if valid else 422), created.text
    if valid:
        assert created.json()["integration"]["integrationName"] == name.strip("\t\n\v\f\r \u3000\ufeff")


def offline_schema() -> dict[str, Any]:
    return create_app(Settings(stage="local", database_url="postgresql://nobody@127.0.0.1:1/none")).openapi()


def test_a_status_filter_is_offered_only_where_records_have_a_status() -> None:
    """ST202: `status` was in every record route's schema, and refused (422) where records have none."""
    paths = offline_schema()["paths"]

    def parameters(path: str) -> set[str]:
        return {parameter["name"] for parameter in paths[path]["get"]["parameters"]}

    assert "status" in parameters("/api/integrations/xero/invoices")
    for path in ("/api/integrations/xero/contacts", "/api/integrations/quickbooks/invoices"):
        assert "status" not in parameters(path), path


AMOUNTS = ["10.50", "0.01", "9999999.99", "7", "0.00", "0", "10.123", "10000000", "\u0661\u0662", "1e3", " 5", ""]
AMOUNTS += ["+10", "10_0", "1E2", "10.5\n", "-1"]


@pytest.mark.parametrize("amount", AMOUNTS, ids=repr)
def test_an_amount_the_schema_allows_is_accepted(amount: str) -> None:
    """ST202: pydantic's own schema for a Decimal allowed strings no decimal parser reads; and Decimal itself
    read '+10', '1e3', '10_0' and other scripts' digits, which PayPal does not. A string is accepted exactly
    when the documented pattern allows it (a JSON number is read as a number)."""
    rule = offline_schema()["components"]["schemas"]["PaymentCreate"]["properties"]["amount"]
    body = {"integrationId": str(uuid.uuid4()), "amount": amount, "currency": "USD"}
    body |= {"returnUrl": "https://a.example/r", "cancelUrl": "https://a.example/c"}
    try:
        PaymentCreate.model_validate(body)
        accepted = True
    except ValidationError:
        accepted = False
    # fullmatch: a JSON Schema reader's `$` does not match before a trailing newline, as Python's does.
    documented = re.fullmatch(rule["pattern"], amount) is not None
    assert accepted == documented
    assert documented == (amount in {"10.50", "0.01", "9999999.99", "7"})


def _integer_bodies(value: object) -> list[tuple[type[Any], dict[str, Any]]]:
    from integration_service.api.marketing import BillionMailCampaignCreate, MauticSegmentMembers
    from integration_service.api.paypal_models import PlanCreate
    from integration_service.api.stripe import PaymentIntentCreate, RefundCreate

    integration = {"integrationId": str(uuid.uuid4())}
    mail = {"addresser": "news@crm.example", "subject": "s", "groupIds": [1]}
    plan = {**integration, "productId": "PROD-123", "name": "p", "amount": "5", "currency": "USD"}
    return [
        (PaymentIntentCreate, {**integration, "amount": value, "currency": "usd"}),
        (RefundCreate, {**integration, "charge": "ch_1234", "amount": value}),
        (MauticSegmentMembers, {"contactIds": [value]}),
        (BillionMailCampaignCreate, {**mail, "templateId": value}),
        (PlanCreate, {**plan, "totalCycles": value}),
        (PlanCreate, {**plan, "intervalCount": value}),
    ]


@pytest.mark.parametrize("value", [True, False, "12", "x"], ids=repr)
def test_a_body_integer_is_a_json_integer(value: object) -> None:
    """ST201: pydantic's lax int read `totalCycles: false` as 0 (a plan was created) and "12" as 12; the schema
    says integer. 12.0 stays one, as JSON Schema reads it."""
    for model, body in _integer_bodies(value):
        with pytest.raises(ValidationError):
            model.model_validate(body)
    for model, body in _integer_bodies(12.0):
        model.model_validate(body)
