"""Real Xero sandbox responses validated against Xero's official OpenAPI documents.

The specs are not part of this repository: they are read from `<repo>/../shared/provider-specs`
(or $PROVIDER_SPECS_DIR) and the tests skip when the folder is absent.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData
from openapi_schema_validator import OAS30Validator

from tests.provider_sandbox.helpers import connect, new_tenant, xero_get
from tests.provider_sandbox.specs import load_yaml_spec

XERO_API_HOST = "https://api.xero.com"


@pytest.fixture(scope="module")
def accounting_spec() -> dict[str, Any]:
    return load_yaml_spec("xero", "xero_accounting.yaml")


@pytest.fixture(scope="module")
def accounting(accounting_spec: dict[str, Any]) -> OpenAPI:
    # The document itself is Xero's; checking it against the OpenAPI meta-schema is not our job.
    return OpenAPI.from_dict(accounting_spec, config=Config(spec_validator_cls=None))


@pytest.fixture
def xero(http: httpx.Client, default_tenants: dict[str, str]) -> tuple[str, str]:
    return connect(http, "xero").access, default_tenants["xero"]


def validate(
    api: OpenAPI,
    path: str,
    response: httpx.Response,
    args: dict[str, str] | None = None,
    body: bytes | None = None,
) -> None:
    request = MockRequest(XERO_API_HOST, "get", path, args=args or {}, headers={"xero-tenant-id": "t"})
    api.validate_response(
        request,
        MockResponse(
            body if body is not None else response.content,
            response.status_code,
            content_type="application/json",
        ),
    )


@pytest.mark.parametrize(
    ("resource", "args"),
    [
        ("Invoices", {"page": "1"}),
        ("Invoices", {}),
        ("Contacts", {"page": "2"}),
        ("Contacts", {}),
        ("Invoices", {"page": "1", "summaryOnly": "true"}),
        ("Contacts", {"page": "1", "summaryOnly": "true"}),
        ("Invoices", {"page": "1", "unitdp": "4", "order": "Total DESC", "where": "Date >= DateTime(2024, 01, 31)"}),
        ("Organisation", {}),
    ],
)
def test_listings_match_the_accounting_spec(
    http: httpx.Client, accounting: OpenAPI, xero: tuple[str, str], resource: str, args: dict[str, str]
) -> None:
    token, tenant = xero
    response = xero_get(http, token, tenant, resource, args)
    assert response.status_code == 200
    validate(accounting, f"/api.xro/2.0/{resource}", response, args)


def test_the_validator_really_checks(http: httpx.Client, accounting: OpenAPI, xero: tuple[str, str]) -> None:
    """A broken payload must fail, or the test above proves nothing."""
    token, tenant = xero
    response = xero_get(http, token, tenant, "Invoices", {"page": "1"})
    broken = copy.deepcopy(response.json())
    broken["Invoices"][0]["Status"] = "SHREDDED"
    broken["Invoices"][1]["InvoiceID"] = "not-a-uuid"
    with pytest.raises(InvalidData):
        validate(accounting, "/api.xro/2.0/Invoices", response, {"page": "1"}, json.dumps(broken).encode())


def test_validation_error_matches_the_error_schema(
    http: httpx.Client, accounting_spec: dict[str, Any], xero: tuple[str, str]
) -> None:
    token, tenant = xero
    response = xero_get(http, token, tenant, "Invoices", {"page": "0"})
    assert response.status_code == 400
    schema = {
        **accounting_spec["components"]["schemas"]["Error"],
        "components": accounting_spec["components"],
    }
    OAS30Validator(schema).validate(response.json())
    assert not OAS30Validator(schema).is_valid({"ErrorNumber": "ten"})


def test_connections_match_the_identity_spec(http: httpx.Client, xero: tuple[str, str]) -> None:
    identity = OpenAPI.from_dict(load_yaml_spec("xero", "xero-identity.yaml"), config=Config(spec_validator_cls=None))
    token, _ = xero
    response = http.get("/xero/api/connections", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    request = MockRequest(XERO_API_HOST, "get", "/Connections")
    identity.validate_response(request, MockResponse(response.content, 200, content_type="application/json"))


@pytest.fixture  # per test: another module's `POST /_sandbox/reset` may run in between
def one_of_each(http: httpx.Client) -> tuple[str, str, dict[str, Any]]:
    """A tenant of this module's own, a token for it, and its first invoice (which names a contact)."""
    tenant = new_tenant(http, "xero", invoices=12, contacts=4)
    token = connect(http, "xero", tenant=tenant).access
    return token, tenant, xero_get(http, token, tenant, "Invoices", {"page": 1}).json()["Invoices"][0]


@pytest.mark.parametrize("key", ["InvoiceID", "InvoiceNumber"])
def test_one_invoice_by_id_or_number_matches_the_spec(
    http: httpx.Client, accounting: OpenAPI, one_of_each: tuple[str, str, dict[str, Any]], key: str
) -> None:
    token, tenant, invoice = one_of_each
    response = xero_get(http, token, tenant, f"Invoices/{invoice[key]}")
    assert response.status_code == 200
    validate(accounting, f"/api.xro/2.0/Invoices/{invoice['InvoiceID']}", response)
    [shown] = response.json()["Invoices"]
    assert shown["InvoiceID"] == invoice["InvoiceID"]
    assert shown["LineItems"] == invoice["LineItems"]  # a single invoice always shows its line items


def test_one_contact_matches_the_spec(
    http: httpx.Client, accounting: OpenAPI, one_of_each: tuple[str, str, dict[str, Any]]
) -> None:
    token, tenant, invoice = one_of_each
    contact_id = invoice["Contact"]["ContactID"]
    response = xero_get(http, token, tenant, f"Contacts/{contact_id}")
    assert response.status_code == 200
    validate(accounting, f"/api.xro/2.0/Contacts/{contact_id}", response)
    [shown] = response.json()["Contacts"]
    assert (shown["ContactID"], shown["Name"]) == (contact_id, invoice["Contact"]["Name"])
    assert "Addresses" in shown


def test_the_organisation_is_the_tenant_named_by_the_header(
    http: httpx.Client, accounting: OpenAPI, one_of_each: tuple[str, str, dict[str, Any]]
) -> None:
    token, tenant, _ = one_of_each
    response = xero_get(http, token, tenant, "Organisation")
    validate(accounting, "/api.xro/2.0/Organisation", response)
    [organisation] = response.json()["Organisations"]
    made = next(
        t for t in http.get("/_sandbox/tenants", params={"provider": "xero"}).json() if t["tenant_id"] == tenant
    )
    assert (organisation["OrganisationID"], organisation["Name"]) == (tenant, made["name"])


UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    "path", [f"Invoices/{UNKNOWN_ID}", "Invoices/INV-999999", f"Contacts/{UNKNOWN_ID}", "Contacts/SB2"]
)
def test_an_unknown_id_is_xeros_plain_text_404_the_spec_leaves_undefined(
    http: httpx.Client, accounting: OpenAPI, one_of_each: tuple[str, str, dict[str, Any]], path: str
) -> None:
    """The spec defines no 404 for these operations; Xero answers them with one sentence in plain text
    (contract/provider-shapes/xero-404.toml), which the fidelity gate judges."""
    token, tenant, _ = one_of_each
    response = xero_get(http, token, tenant, path)
    assert response.status_code == 404
    with pytest.raises(ResponseNotFound):
        validate(accounting, f"/api.xro/2.0/{path}", response)
    assert response.text == "The resource you're looking for cannot be found"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["X-MinLimit-Remaining"].isdigit()  # a counted call, like every answered one
