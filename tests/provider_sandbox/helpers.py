"""Client-side helpers: walk each provider's OAuth flow and call its API the way a service would."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

SEED_INVOICES = 2500
SEED_CONTACTS = 250
REDIRECT_URI = "http://localhost:8765/callback"


@dataclass(frozen=True)
class OAuthApp:
    authorize: str
    token: str
    client_id: str
    client_secret: str
    scope: str
    client_auth: str  # "basic" or "post": what the provider's docs show


APPS = {
    "xero": OAuthApp(
        "/xero/login/identity/connect/authorize",
        "/xero/identity/connect/token",
        "sandbox-xero-client",
        "sandbox-xero-secret",
        "openid profile email offline_access accounting.transactions.read accounting.contacts.read",
        "basic",
    ),
    "myob": OAuthApp(
        "/myob/secure/oauth2/account/authorize",
        "/myob/secure/oauth2/v1/authorize",
        "sandbox-myob-client",
        "sandbox-myob-secret",
        "CompanyFile",
        "post",
    ),
    "quickbooks": OAuthApp(
        "/quickbooks/appcenter/connect/oauth2",
        "/quickbooks/oauth/oauth2/v1/tokens/bearer",
        "sandbox-quickbooks-client",
        "sandbox-quickbooks-secret",
        "com.intuit.quickbooks.accounting",
        "basic",
    ),
}
PROVIDERS = tuple(APPS)


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str
    body: dict[str, Any]
    redirect_params: dict[str, str]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def authorize(http: httpx.Client, provider: str, tenant: str | None = None, **overrides: str) -> httpx.Response:
    app = APPS[provider]
    params = {
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": app.scope,
        "state": "state-123",
    }
    if tenant:
        params["sandbox_tenant"] = tenant
    params.update(overrides)
    return http.get(app.authorize, params=params, follow_redirects=False)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token_request(
    http: httpx.Client,
    provider: str,
    form: dict[str, str],
    secret: str | None = None,
    client_auth: str | None = None,
) -> httpx.Response:
    app = APPS[provider]
    secret = app.client_secret if secret is None else secret
    if (client_auth or app.client_auth) == "basic":
        return http.post(app.token, data=form, headers={"Authorization": basic(app.client_id, secret)})
    return http.post(app.token, data={**form, "client_id": app.client_id, "client_secret": secret})


def exchange_code(http: httpx.Client, provider: str, code: str, **kwargs: Any) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    return token_request(http, provider, form, **kwargs)


def refresh(http: httpx.Client, provider: str, refresh_token: str, **kwargs: Any) -> httpx.Response:
    return token_request(http, provider, {"grant_type": "refresh_token", "refresh_token": refresh_token}, **kwargs)


def connect(http: httpx.Client, provider: str, tenant: str | None = None) -> Tokens:
    params = redirect_params(authorize(http, provider, tenant))
    response = exchange_code(http, provider, params["code"])
    assert response.status_code == 200, response.text
    body = response.json()
    return Tokens(body["access_token"], body["refresh_token"], body, params)


def new_tenant(http: httpx.Client, provider: str, invoices: int, contacts: int = 20) -> str:
    response = http.post("/_sandbox/tenants", json={"provider": provider, "invoices": invoices, "contacts": contacts})
    assert response.status_code == 201, response.text
    return str(response.json()["tenant_id"])


def fault(http: httpx.Client, **rule: Any) -> dict[str, Any]:
    response = http.post("/_sandbox/faults", json=rule)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- provider API calls ------------------------------------------------------------------------

XERO_API = "/xero/api/api.xro/2.0"
MYOB_API = "/myob/api/accountright"


def xero_get(
    http: httpx.Client,
    token: str,
    tenant: str | None,
    resource: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    if tenant is not None:
        sent["xero-tenant-id"] = tenant
    return http.get(f"{XERO_API}/{resource}", params=params, headers=sent)


def myob_headers(token: str, key: str = APPS["myob"].client_id) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "x-myobapi-key": key,
        "x-myobapi-version": "v2",
        "Accept": "application/json",
    }


def myob_get(
    http: httpx.Client,
    token: str,
    path: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return http.get(f"{MYOB_API}{path}", params=params, headers=headers or myob_headers(token))


def qbo_query(
    http: httpx.Client, token: str, realm: str, query: str, accept: str = "application/json"
) -> httpx.Response:
    return http.get(
        f"/quickbooks/api/v3/company/{realm}/query",
        params={"query": query, "minorversion": "75"},
        headers={"Authorization": f"Bearer {token}", "Accept": accept},
    )
