"""The authorization-code flow of every OAuth provider, over HTTP, as a service would walk it."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.provider_sandbox.helpers import (
    APPS,
    PROVIDERS,
    REDIRECT_URI,
    authorize,
    connect,
    exchange_code,
    myob_get,
    qbo_query,
    redirect_params,
    refresh,
    xero_get,
)

EXPECTED_LIFETIME = {"xero": 1800, "myob": 1200, "quickbooks": 3600}


def api_status(http: httpx.Client, provider: str, token: str, tenant: str) -> int:
    """Status of one cheap, authenticated data call for the provider."""
    if provider == "xero":
        return xero_get(http, token, tenant, "Contacts", {"page": 1, "pageSize": 1}).status_code
    if provider == "myob":
        return myob_get(http, token, f"/{tenant}/Sale/Invoice", {"$top": 1}).status_code
    return qbo_query(http, token, tenant, "select * from Invoice maxresults 1").status_code


@pytest.mark.parametrize("provider", PROVIDERS)
def test_authorize_redirects_with_code_and_state(http: httpx.Client, provider: str) -> None:
    params = redirect_params(authorize(http, provider))
    assert params["state"] == "state-123"
    assert len(params["code"]) >= 20


def test_quickbooks_redirect_carries_the_realm_chosen(http: httpx.Client, default_tenants: dict[str, str]) -> None:
    assert redirect_params(authorize(http, "quickbooks"))["realmId"] == default_tenants["quickbooks"]
    other = next(
        t["tenant_id"]
        for t in http.get("/_sandbox/tenants", params={"provider": "quickbooks"}).json()
        if not t["default"]
    )
    assert redirect_params(authorize(http, "quickbooks", tenant=other))["realmId"] == other


@pytest.mark.parametrize("provider", PROVIDERS)
def test_code_exchange_returns_tokens_with_documented_lifetime(http: httpx.Client, provider: str) -> None:
    tokens = connect(http, provider)
    assert tokens.body["token_type"].lower() == "bearer"
    assert int(tokens.body["expires_in"]) == EXPECTED_LIFETIME[provider]
    assert tokens.access != tokens.refresh


def test_provider_specific_token_fields(http: httpx.Client) -> None:
    assert connect(http, "xero").body["id_token"].count(".") == 2  # openid was requested
    myob = connect(http, "myob").body
    assert myob["expires_in"] == "1200"  # MYOB sends it as a string
    assert set(myob["user"]) == {"uid", "username"}
    assert connect(http, "quickbooks").body["x_refresh_token_expires_in"] == 8_726_400


def test_xero_issues_no_refresh_token_without_offline_access(http: httpx.Client) -> None:
    params = redirect_params(authorize(http, "xero", scope="openid accounting.transactions.read"))
    body = exchange_code(http, "xero", params["code"]).json()
    assert "access_token" in body
    assert "refresh_token" not in body


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("client_auth", ["basic", "post"])
def test_both_client_authentication_methods_work(http: httpx.Client, provider: str, client_auth: str) -> None:
    code = redirect_params(authorize(http, provider))["code"]
    assert exchange_code(http, provider, code, client_auth=client_auth).status_code == 200


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("client_auth", ["basic", "post"])
def test_wrong_client_secret_is_invalid_client(http: httpx.Client, provider: str, client_auth: str) -> None:
    code = redirect_params(authorize(http, provider))["code"]
    response = exchange_code(http, provider, code, secret="not-the-secret", client_auth=client_auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # ...and the code was not consumed by the failed attempt.
    assert exchange_code(http, provider, code).status_code == 200


@pytest.mark.parametrize("provider", PROVIDERS)
def test_code_is_single_use(http: httpx.Client, provider: str, default_tenants: dict[str, str]) -> None:
    code = redirect_params(authorize(http, provider))["code"]
    first = exchange_code(http, provider, code)
    assert first.status_code == 200
    second = exchange_code(http, provider, code)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    # A replayed code revokes what it issued (RFC 6749 4.1.2).
    assert api_status(http, provider, first.json()["access_token"], default_tenants[provider]) in (401, 403)


def test_code_expires_after_its_lifetime(http: httpx.Client) -> None:
    code = redirect_params(authorize(http, "xero"))["code"]
    http.post("/_sandbox/clock/advance", json={"seconds": 301})
    response = exchange_code(http, "xero", code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_bound_to_its_redirect_uri(http: httpx.Client) -> None:
    code = redirect_params(authorize(http, "myob"))["code"]
    app = APPS["myob"]
    response = http.post(
        app.token,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI + "/other",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refresh_rotates_and_the_old_refresh_token_dies(
    http: httpx.Client, provider: str, default_tenants: dict[str, str]
) -> None:
    tokens = connect(http, provider)
    rotated = refresh(http, provider, tokens.refresh)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != tokens.refresh
    assert new["access_token"] != tokens.access
    assert api_status(http, provider, new["access_token"], default_tenants[provider]) == 200

    replay = refresh(http, provider, tokens.refresh)
    assert replay.status_code == 400
    assert replay.json() == {
        "error": "invalid_grant",
        "error_description": replay.json()["error_description"],
    }
    assert refresh(http, provider, new["refresh_token"]).status_code == 200  # the current one still works

    state = http.get("/_sandbox/tokens", params={"provider": provider}).json()
    grant = next(g for g in state if any(r["sha256"] == _sha(tokens.refresh) for r in g["refresh_tokens"]))
    current = [r for r in grant["refresh_tokens"] if r["current"]]
    assert len(current) == 1
    assert grant["current_refresh_sha256"] == current[0]["sha256"]
    assert len(grant["refresh_tokens"]) == 3


def test_refresh_token_of_another_client_is_invalid_grant(http: httpx.Client) -> None:
    http.post(
        "/_sandbox/clients",
        json={"provider": "xero", "client_id": "second-xero-app", "client_secret": "second-secret"},
    )
    tokens = connect(http, "xero")
    response = http.post(
        APPS["xero"].token,
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh,
            "client_id": "second-xero-app",
            "client_secret": "second-secret",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant_type(http: httpx.Client) -> None:
    app = APPS["quickbooks"]
    response = http.post(
        app.token,
        data={"grant_type": "password", "client_id": app.client_id, "client_secret": app.client_secret},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_authorize_rejects_unknown_client_and_foreign_redirect_without_redirecting(
    http: httpx.Client, provider: str
) -> None:
    unknown = authorize(http, provider, client_id="nobody")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unauthorized_client"
    foreign = authorize(http, provider, redirect_uri="https://attacker.example/cb")
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_request"


def test_authorize_with_bad_response_type_redirects_with_error(http: httpx.Client) -> None:
    params = redirect_params(authorize(http, "xero", response_type="token"))
    assert params == {"error": "unsupported_response_type", "state": "state-123"}


def test_authorize_rejects_unknown_sandbox_tenant(http: httpx.Client) -> None:
    response = authorize(http, "myob", tenant="00000000-0000-0000-0000-000000000000")
    assert response.status_code == 400
    assert "sandbox_tenant" in response.json()["error_description"]


def test_registered_client_redirect_uris_are_matched_exactly(http: httpx.Client) -> None:
    created = http.post(
        "/_sandbox/clients",
        json={
            "provider": "quickbooks",
            "client_id": "strict-qbo",
            "client_secret": "s3",
            "redirect_uris": ["https://crm.example/callback"],
        },
    )
    assert created.status_code == 201
    good = authorize(http, "quickbooks", client_id="strict-qbo", redirect_uri="https://crm.example/callback")
    assert good.status_code == 302
    assert authorize(http, "quickbooks", client_id="strict-qbo").status_code == 400  # localhost not registered
    again = http.post(
        "/_sandbox/clients", json={"provider": "quickbooks", "client_id": "strict-qbo", "client_secret": "x"}
    )
    assert again.status_code == 409


def test_xero_connections_list_the_consented_tenants(http: httpx.Client, default_tenants: dict[str, str]) -> None:
    tenants = http.get("/_sandbox/tenants", params={"provider": "xero"}).json()
    both = ",".join(t["tenant_id"] for t in tenants)
    tokens = connect(http, "xero", tenant=both)
    response = http.get("/xero/api/connections", headers={"Authorization": f"Bearer {tokens.access}"})
    assert response.status_code == 200
    connections = response.json()
    assert {c["tenantId"] for c in connections} == {t["tenant_id"] for t in tenants}
    assert {c["tenantName"] for c in connections} == {t["name"] for t in tenants}
    assert all(c["tenantType"] == "ORGANISATION" for c in connections)
    assert len({c["authEventId"] for c in connections}) == 1

    deleted = http.delete(
        f"/xero/api/connections/{connections[0]['id']}", headers={"Authorization": f"Bearer {tokens.access}"}
    )
    assert deleted.status_code == 204
    remaining = http.get("/xero/api/connections", headers={"Authorization": f"Bearer {tokens.access}"}).json()
    # Other tests of the session may have made more Xero tenants: every consented one but the deleted stays.
    assert [c["id"] for c in remaining] == [c["id"] for c in connections[1:]]


def test_xero_default_consent_is_the_default_tenant(http: httpx.Client, default_tenants: dict[str, str]) -> None:
    tokens = connect(http, "xero")
    connections = http.get("/xero/api/connections", headers={"Authorization": f"Bearer {tokens.access}"}).json()
    assert [c["tenantId"] for c in connections] == [default_tenants["xero"]]


@pytest.mark.parametrize(
    ("provider", "path", "body_kind"),
    [
        ("xero", "/xero/identity/connect/revocation", "form"),
        ("quickbooks", "/quickbooks/developer/v2/oauth2/tokens/revoke", "json"),
    ],
)
def test_revocation_endpoint_ends_the_consent(
    http: httpx.Client, default_tenants: dict[str, str], provider: str, path: str, body_kind: str
) -> None:
    tokens = connect(http, provider)
    app = APPS[provider]
    auth = httpx.BasicAuth(app.client_id, app.client_secret)
    if body_kind == "form":
        response = http.post(path, data={"token": tokens.refresh}, auth=auth)
    else:
        response = http.post(path, json={"token": tokens.refresh}, auth=auth)
    assert response.status_code == 200
    assert api_status(http, provider, tokens.access, default_tenants[provider]) == 401
    assert refresh(http, provider, tokens.refresh).json()["error"] == "invalid_grant"
    assert http.post(path, data={"token": "x"}, auth=httpx.BasicAuth(app.client_id, "wrong")).status_code == 401


@pytest.mark.parametrize("provider", PROVIDERS)
def test_control_api_expire_then_refresh_recovers(
    http: httpx.Client, provider: str, default_tenants: dict[str, str]
) -> None:
    tokens = connect(http, provider)
    assert http.post("/_sandbox/tokens/expire", json={"token": tokens.access}).json() == {"expired": 1}
    assert api_status(http, provider, tokens.access, default_tenants[provider]) == 401
    renewed = refresh(http, provider, tokens.refresh).json()
    assert api_status(http, provider, renewed["access_token"], default_tenants[provider]) == 200


def test_access_token_expires_when_the_clock_passes_its_lifetime(
    http: httpx.Client, default_tenants: dict[str, str]
) -> None:
    tokens = connect(http, "myob")
    assert api_status(http, "myob", tokens.access, default_tenants["myob"]) == 200
    http.post("/_sandbox/clock/advance", json={"seconds": 1201})
    assert api_status(http, "myob", tokens.access, default_tenants["myob"]) == 401


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
