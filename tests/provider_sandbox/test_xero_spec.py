"""Real Xero sandbox responses validated against Xero's official OpenAPI documents.

The specs are not part of this repository: they are read from `<repo>/../shared/provider-specs`
(or $PROVIDER_SPECS_DIR) and the tests skip when the folder is absent.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData
from openapi_schema_validator import OAS30Validator

from tests.provider_sandbox.helpers import connect, xero_get

XERO_API_HOST = "https://api.xero.com"


def specs_dir() -> Path:
    configured = os.environ.get("PROVIDER_SPECS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared" / "provider-specs"


def load_spec(name: str) -> dict[str, Any]:
    path = specs_dir() / "xero" / name
    if not path.is_file():
        pytest.skip(f"Xero spec {path} not present (set PROVIDER_SPECS_DIR)")
    with path.open() as handle:
        return dict(yaml.load(handle, Loader=yaml.CSafeLoader))  # the C loader: the spec is ~1 MB


@pytest.fixture(scope="module")
def accounting_spec() -> dict[str, Any]:
    return load_spec("xero_accounting.yaml")


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
    [("Invoices", {"page": "1"}), ("Invoices", {}), ("Contacts", {"page": "2"}), ("Contacts", {})],
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
    identity = OpenAPI.from_dict(load_spec("xero-identity.yaml"), config=Config(spec_validator_cls=None))
    token, _ = xero
    response = http.get("/xero/api/connections", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    request = MockRequest(XERO_API_HOST, "get", "/Connections")
    identity.validate_response(request, MockResponse(response.content, 200, content_type="application/json"))
