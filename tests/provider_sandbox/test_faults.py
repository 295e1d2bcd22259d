"""Injected faults: each kind, per provider, rendered the way that provider signals it."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.provider_sandbox.helpers import connect, fault, myob_get, qbo_query, refresh, xero_get


@pytest.fixture
def xero(http: httpx.Client, default_tenants: dict[str, str]) -> tuple[str, str]:
    return connect(http, "xero").access, default_tenants["xero"]


def test_error_fails_the_next_n_matching_calls_then_clears(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    rule = fault(http, provider="xero", path="/Invoices", kind="error", status=503, times=2)
    statuses = [xero_get(http, token, tenant, "Invoices", {"page": 1}).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert xero_get(http, token, tenant, "Contacts", {"page": 1}).status_code == 200  # path did not match
    assert all(r["id"] != rule["id"] for r in http.get("/_sandbox/faults").json())
    recorded = http.get("/_sandbox/requests", params={"provider": "xero", "path_contains": "Invoices"}).json()
    assert [r["fault_id"] for r in recorded[-3:]] == [rule["id"], rule["id"], None]


def test_error_bodies_use_each_providers_shape(
    http: httpx.Client, default_tenants: dict[str, str], xero: tuple[str, str]
) -> None:
    token, tenant = xero
    myob_token, qbo_token = connect(http, "myob").access, connect(http, "quickbooks").access
    for provider in ("xero", "myob", "quickbooks"):
        fault(http, provider=provider, kind="error", status=500)
    assert xero_get(http, token, tenant, "Invoices").json()["Status"] == 500
    myob = myob_get(http, myob_token, f"/{default_tenants['myob']}/Sale/Invoice")
    assert myob.status_code == 500
    assert myob.json()["Errors"][0]["Severity"] == "Error"
    qbo = qbo_query(http, qbo_token, default_tenants["quickbooks"], "select * from Invoice")
    assert qbo.status_code == 500
    assert qbo.json()["Fault"]["type"] == "SystemFault"


def test_fail_only_page_k(http: httpx.Client, default_tenants: dict[str, str], xero: tuple[str, str]) -> None:
    token, tenant = xero
    fault(http, provider="xero", path="/Invoices", page=3, status=500, times=None)
    assert [xero_get(http, token, tenant, "Invoices", {"page": p}).status_code for p in (1, 2, 3, 4, 3)] == [
        200,
        200,
        500,
        200,
        500,
    ]
    myob_token, cf = connect(http, "myob").access, default_tenants["myob"]
    fault(http, provider="myob", path="/Sale/Invoice", page=2, status=502)
    assert myob_get(http, myob_token, f"/{cf}/Sale/Invoice", {"$top": 100}).status_code == 200
    assert myob_get(http, myob_token, f"/{cf}/Sale/Invoice", {"$top": 100, "$skip": 100}).status_code == 502
    qbo_token, realm = connect(http, "quickbooks").access, default_tenants["quickbooks"]
    fault(http, provider="quickbooks", path="/query", page=2, status=503)
    page1 = qbo_query(http, qbo_token, realm, "select * from Invoice startposition 1 maxresults 500")
    page2 = qbo_query(http, qbo_token, realm, "select * from Invoice startposition 501 maxresults 500")
    assert (page1.status_code, page2.status_code) == (200, 503)


def test_xero_rate_limit_headers(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    fault(http, provider="xero", kind="rate_limit", retry_after=7, limit_problem="day")
    response = xero_get(http, token, tenant, "Invoices")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["X-Rate-Limit-Problem"] == "day"
    assert response.headers["X-DayLimit-Remaining"] == "0"
    assert xero_get(http, token, tenant, "Invoices", {"page": 1}).status_code == 200


def test_quickbooks_and_myob_rate_limits(http: httpx.Client, default_tenants: dict[str, str]) -> None:
    qbo_token, myob_token = connect(http, "quickbooks").access, connect(http, "myob").access
    fault(http, provider="quickbooks", kind="rate_limit", retry_after=3)
    qbo = qbo_query(http, qbo_token, default_tenants["quickbooks"], "select * from Invoice")
    assert qbo.status_code == 429
    assert qbo.headers["Retry-After"] == "3"
    assert qbo.json()["Fault"]["Error"][0]["code"] == "3001"
    fault(http, provider="myob", kind="rate_limit")
    myob = myob_get(http, myob_token, f"/{default_tenants['myob']}/Sale/Invoice")
    assert myob.status_code == 403
    assert myob.json()["Errors"][0]["Name"] == "RateLimitError"
    assert "Retry-After" not in myob.headers  # MYOB documents none unless a rule asks for one


def test_delay_slows_then_succeeds_and_can_trip_client_timeouts(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    fault(http, provider="xero", path="/Contacts", kind="delay", delay_ms=300)
    started = time.monotonic()
    response = xero_get(http, token, tenant, "Contacts", {"page": 1})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3  # a lower bound only: sleeping guarantees it
    fault(http, provider="xero", path="/Contacts", kind="delay", delay_ms=1500)
    with pytest.raises(httpx.ReadTimeout):
        http.get(
            "/xero/api/api.xro/2.0/Contacts",
            headers={"Authorization": f"Bearer {token}", "xero-tenant-id": tenant},
            timeout=0.2,
        )


def test_malformed_body(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    fault(http, provider="xero", path="/Invoices", kind="malformed")
    response = xero_get(http, token, tenant, "Invoices")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_token_endpoint_faults_and_method_matching(http: httpx.Client) -> None:
    tokens = connect(http, "quickbooks")
    fault(http, provider="quickbooks", path="/tokens/bearer", method="GET", status=500)  # never matches a POST
    fault(http, provider="quickbooks", path="/tokens/bearer", method="POST", status=503)
    assert refresh(http, "quickbooks", tokens.refresh).status_code == 503
    assert refresh(http, "quickbooks", tokens.refresh).status_code == 200  # the failed call rotated nothing


@pytest.mark.parametrize(
    "rule",
    [
        {"provider": "nobody"},
        {"provider": "xero", "kind": "explode"},
        {"provider": "xero", "status": 200},
        {"provider": "xero", "times": 0},
        {"provider": "xero", "colour": "red"},
        {"provider": "xero", "page": "two"},
        {"provider": "xero", "limit_problem": "hour"},
    ],
)
def test_invalid_fault_rules_are_rejected(http: httpx.Client, rule: dict[str, object]) -> None:
    response = http.post("/_sandbox/faults", json=rule)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_fault"


def test_fault_rules_can_be_listed_and_deleted(http: httpx.Client) -> None:
    rule = fault(http, provider="myob", kind="error", status=500, times=None)
    assert [r["id"] for r in http.get("/_sandbox/faults").json()] == [rule["id"]]
    assert http.delete(f"/_sandbox/faults/{rule['id']}").status_code == 204
    assert http.delete(f"/_sandbox/faults/{rule['id']}").status_code == 404
    assert http.get("/_sandbox/faults").json() == []
