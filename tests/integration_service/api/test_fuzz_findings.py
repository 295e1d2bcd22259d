"""What Schemathesis found in the service, each pinned by a test (see contract/schemathesis.toml)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

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
