"""The control API: health, tenants, mutations, recorded requests, token state, clock and reset."""

from __future__ import annotations

import httpx

from harness.core.processes import ServerProcess
from provider_sandbox.app import SIMULATORS
from tests.provider_sandbox.helpers import APPS, connect, new_tenant, qbo_query, xero_get


def test_health(http: httpx.Client) -> None:
    response = http.get("/_sandbox/health")
    assert response.status_code == 200
    assert response.json()["providers"] == sorted(cls.name for cls in SIMULATORS)
    assert {"myob", "quickbooks", "xero"} <= set(response.json()["providers"])


def test_create_and_resize_a_tenant(http: httpx.Client) -> None:
    created = http.post(
        "/_sandbox/tenants",
        json={"provider": "quickbooks", "invoices": 40, "contacts": 5, "name": "Resize Co"},
    )
    assert created.status_code == 201
    tenant = created.json()
    assert (tenant["invoices"], tenant["contacts"], tenant["name"], tenant["default"]) == (
        40,
        5,
        "Resize Co",
        False,
    )
    token = connect(http, "quickbooks", tenant=tenant["tenant_id"]).access
    first_ten = qbo_query(http, token, tenant["tenant_id"], "select * from Invoice maxresults 10").json()

    grown = http.patch(f"/_sandbox/tenants/quickbooks/{tenant['tenant_id']}", json={"invoices": 1500})
    assert grown.json()["invoices"] == 1500
    count = qbo_query(http, token, tenant["tenant_id"], "select count(*) from Invoice").json()
    assert count["QueryResponse"]["totalCount"] == 1500
    # Growing keeps existing records exactly as they were (record i is always record i).
    again = qbo_query(http, token, tenant["tenant_id"], "select * from Invoice maxresults 10").json()
    assert again["QueryResponse"]["Invoice"] == first_ten["QueryResponse"]["Invoice"]


def test_tenant_endpoints_reject_bad_input(http: httpx.Client) -> None:
    assert http.post("/_sandbox/tenants", json={"provider": "sage"}).status_code == 400
    assert http.post("/_sandbox/tenants", json={"provider": "xero", "invoices": -1}).status_code == 400
    assert http.post("/_sandbox/tenants", content=b"not json").json()["error"] == "invalid_json"
    assert http.patch("/_sandbox/tenants/xero/nope", json={"invoices": 1}).status_code == 404
    missing = http.post("/_sandbox/tenants/myob/nope/mutations", json={"modify": 1})
    assert missing.status_code == 404


def test_mutations_report_ids_in_provider_vocabulary(http: httpx.Client) -> None:
    tenant = new_tenant(http, "quickbooks", invoices=30)
    change = http.post(f"/_sandbox/tenants/quickbooks/{tenant}/mutations", json={"modify": 2, "add": 1}).json()
    assert change["modified_ids"] == ["1", "2"]
    assert change["added_ids"] == ["31"]
    assert change["invoices"] == 31
    too_many = http.post(f"/_sandbox/tenants/quickbooks/{tenant}/mutations", json={"modify": 99})
    assert too_many.status_code == 400


def test_recorded_requests_keep_headers_but_never_whole_secrets(
    http: httpx.Client, default_tenants: dict[str, str], sandbox_process: ServerProcess
) -> None:
    before = http.get("/_sandbox/requests").json()
    since = before[-1]["seq"] if before else 0
    tokens = connect(http, "xero")
    xero_get(
        http,
        tokens.access,
        default_tenants["xero"],
        "Invoices",
        {"page": 2},
        {"If-Modified-Since": "2025-01-01T00:00:00"},
    )
    recorded = http.get("/_sandbox/requests", params={"provider": "xero", "since_seq": since}).json()
    assert [r["path"] for r in recorded] == [
        "/xero/login/identity/connect/authorize",
        "/xero/identity/connect/token",
        "/xero/api/api.xro/2.0/Invoices",
    ]
    api_call = recorded[-1]
    assert api_call["query"] == {"page": "2"}
    assert api_call["headers"]["xero-tenant-id"] == default_tenants["xero"]
    assert api_call["headers"]["if-modified-since"] == "2025-01-01T00:00:00"
    assert api_call["headers"]["authorization"].startswith("Bearer ")
    dump = str(recorded) + sandbox_process.log_tail(200_000)
    for secret in (tokens.access, tokens.refresh, tokens.redirect_params["code"], APPS["xero"].client_secret):
        assert secret not in dump
    assert http.delete("/_sandbox/requests").status_code == 204
    assert http.get("/_sandbox/requests").json() == []


def test_token_state_listing(http: httpx.Client) -> None:
    tokens = connect(http, "myob")
    grants = http.get("/_sandbox/tokens", params={"provider": "myob"}).json()
    grant = next(g for g in grants if g["access_tokens"][0]["hint"] == tokens.access[:8] + "...")
    assert grant["client_id"] == APPS["myob"].client_id
    assert grant["access_tokens"][0]["expired"] is False
    assert grant["refresh_tokens"][0]["current"] is True
    assert tokens.access not in str(grants)
    assert http.post("/_sandbox/tokens/expire", json={}).status_code == 400
    assert http.post("/_sandbox/tokens/revoke", json={"provider": "sage"}).status_code == 400


def test_refresh_token_can_be_expired_by_value(http: httpx.Client) -> None:
    tokens = connect(http, "xero")
    assert http.post("/_sandbox/tokens/expire", json={"token": tokens.refresh}).json() == {"expired": 1}
    app = APPS["xero"]
    response = http.post(
        app.token,
        data={"grant_type": "refresh_token", "refresh_token": tokens.refresh},
        auth=httpx.BasicAuth(app.client_id, app.client_secret),
    )
    assert response.json()["error"] == "invalid_grant"


def test_clock_only_moves_forward(http: httpx.Client) -> None:
    before = http.get("/_sandbox/clock").json()["offset_seconds"]
    assert http.post("/_sandbox/clock/advance", json={"seconds": 5}).json()["offset_seconds"] == before + 5
    assert http.post("/_sandbox/clock/advance", json={"seconds": -5}).status_code == 400


def test_unknown_control_path_is_json_404(http: httpx.Client) -> None:
    response = http.get("/_sandbox/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_reset_restores_the_seeded_start(http: httpx.Client, default_tenants: dict[str, str]) -> None:
    tenant = new_tenant(http, "xero", invoices=3)
    tokens = connect(http, "xero")
    http.post("/_sandbox/clients", json={"provider": "myob", "client_id": "temp-client", "client_secret": "t"})
    assert http.post("/_sandbox/reset").status_code == 200
    tenants = http.get("/_sandbox/tenants").json()
    assert tenant not in {t["tenant_id"] for t in tenants}
    assert {t["provider"]: t["tenant_id"] for t in tenants if t["default"]} == default_tenants
    assert xero_get(http, tokens.access, default_tenants["xero"], "Invoices").status_code == 401
    assert "temp-client" not in {c["client_id"] for c in http.get("/_sandbox/clients").json()}
    assert http.get("/_sandbox/clock").json()["offset_seconds"] == 0


def test_tokens_of_one_tenant_are_expired_and_revoked_leaving_the_others(http: httpx.Client) -> None:
    """A stage's sandbox is shared: a scenario expires or revokes its own tenant's consents, no one else's."""
    mine, theirs = new_tenant(http, "xero", 3), new_tenant(http, "xero", 3)
    my_tokens, their_tokens = connect(http, "xero", mine), connect(http, "xero", theirs)
    expired = http.post("/_sandbox/tokens/expire", json={"provider": "xero", "tenant_id": mine}).json()
    assert expired == {"expired": 1}
    revoked = http.post("/_sandbox/tokens/revoke", json={"provider": "xero", "tenant_id": mine}).json()
    assert revoked == {"revoked_grants": 1}
    assert xero_get(http, my_tokens.access, mine, "Invoices").status_code == 401
    assert xero_get(http, their_tokens.access, theirs, "Invoices").status_code == 200
    assert http.post("/_sandbox/tokens/revoke", json={"tenant_id": mine}).status_code == 400  # needs its provider
