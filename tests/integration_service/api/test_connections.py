"""Connecting Xero, MYOB and QuickBooks through the real OAuth 2.0 flow against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import psycopg
import pytest

from harness.core.processes import ServerProcess
from harness.stack.local import sandbox_service_env
from harness.stack.oauth import start_in_browser, state_cookie
from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import (
    MYOB,
    PROVIDERS,
    QUICKBOOKS,
    XERO,
    Provider,
    default_tenant,
    sandbox_grants,
    sha256,
    stored_tokens,
    tenants,
)

pytestmark = pytest.mark.db


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_the_oauth_flow_connects_and_stores_tokens_encrypted(
    make_user: Callable[[], ApiUser],
    connect: Connect,
    provider: Provider,
    sandbox_control: httpx.Client,
    sql: psycopg.Connection[tuple[Any, ...]],
) -> None:
    integration = connect(make_user(), provider.slug)
    assert integration["hasAccessToken"] is True
    assert integration["hasRefreshToken"] is True
    assert integration["syncStatus"] == "IDLE"
    assert integration["tokenExpiresAt"] is not None
    tenant = default_tenant(sandbox_control, provider)
    expected = {"xero": "tenantId", "myob": "companyFileId", "quickbooks": "realmId"}[provider.slug]
    assert integration["customData"][expected] == tenant["tenant_id"]

    access, refresh = stored_tokens(sql, integration["id"])
    issued = {
        token["sha256"] for grant in sandbox_grants(sandbox_control, provider) for token in grant["access_tokens"]
    }
    current_refresh = {grant["current_refresh_sha256"] for grant in sandbox_grants(sandbox_control, provider)}
    assert sha256(access) in issued  # what we stored is what the provider issued...
    assert sha256(refresh) in current_refresh
    row = sql.execute(
        "SELECT row_to_json(c)::text FROM integrations_credentials c WHERE id = %s", [integration["id"]]
    ).fetchone()
    assert row is not None
    assert access not in str(row[0])  # ...and only ciphertext of it is in the table
    assert refresh not in str(row[0])


def test_connect_needs_an_api_token(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/integrations/xero/connect").status_code == 401


def test_the_state_is_single_use(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    with httpx.Client(timeout=30) as browser:
        started = start_in_browser(user.client, browser, "xero")
        callback = browser.get(started.headers["Location"]).headers["Location"]
        assert browser.get(callback).status_code == 200
        replayed = browser.get(callback)
    assert replayed.status_code == 400
    assert "state" in replayed.json()["error"]["message"]


def test_a_forged_state_is_refused(make_user: Callable[[], ApiUser], service: Any) -> None:
    user = make_user()
    started = user.client.get("/api/integrations/xero/connect")
    with httpx.Client(timeout=30) as browser:
        callback = browser.get(started.headers["Location"]).headers["Location"]
        query = parse_qs(urlsplit(callback).query)
        forged = browser.get(
            f"{service.url}/api/integrations/xero/callback", params={"code": query["code"][0], "state": "forged"}
        )
    assert forged.status_code == 400
    assert user.client.get("/api/integrations").json()["total"] == 0


def test_a_state_is_bound_to_its_provider(make_user: Callable[[], ApiUser], service: Any) -> None:
    started = make_user().client.get("/api/integrations/xero/connect")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    # The browser would send Xero's state cookie only to Xero's callback: handed to MYOB's on purpose here,
    # so that what refuses the state is the provider binding, not the missing cookie.
    crossed = httpx.get(
        f"{service.url}/api/integrations/myob/callback",
        params={"code": "c", "state": state},
        headers={"Cookie": state_cookie(started)},
    )
    assert crossed.status_code == 400
    # Refused for the state, not later for the made-up code: a state issued for Xero means nothing to MYOB.
    assert "state" in crossed.json()["error"]["message"]


def test_a_declined_consent_is_a_clear_error(make_user: Callable[[], ApiUser], service: Any) -> None:
    with httpx.Client(timeout=30) as browser:
        started = start_in_browser(make_user().client, browser, "quickbooks")
        state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
        declined = browser.get(
            f"{service.url}/api/integrations/quickbooks/callback", params={"error": "access_denied", "state": state}
        )
    assert declined.status_code == 400
    assert "access_denied" in declined.json()["error"]["message"]


def test_a_consent_url_opened_in_another_browser_links_nothing(make_user: Callable[[], ApiUser]) -> None:
    starter = make_user()
    with httpx.Client(timeout=30) as starters_browser, httpx.Client(timeout=30) as someone_else:
        consent_url = start_in_browser(starter.client, starters_browser, "xero").headers["Location"]
        # The consent URL sent to someone else: they consent to their organisation in their own browser.
        callback = someone_else.get(consent_url).headers["Location"]
        refused = someone_else.get(callback)
        assert refused.status_code == 400, refused.text
        assert "did not start this authorisation" in refused.json()["error"]["message"]
        assert starter.client.get("/api/integrations").json()["total"] == 0
        # The refusal did not spend the state: the browser that started the flow can still finish it.
        finished = starters_browser.get(starters_browser.get(consent_url).headers["Location"])
        assert finished.status_code == 200, finished.text
    assert starter.client.get("/api/integrations").json()["total"] == 1


def test_a_forged_state_cookie_is_refused(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    started = user.client.get("/api/integrations/xero/connect")
    name = state_cookie(started).split("=", 1)[0]
    with httpx.Client(timeout=30) as browser:
        callback = browser.get(started.headers["Location"]).headers["Location"]
        forged = browser.get(callback, headers={"Cookie": f"{name}=not-the-state"})
    assert forged.status_code == 400, forged.text
    assert user.client.get("/api/integrations").json()["total"] == 0


def test_the_state_cookie_is_http_only_lax_and_scoped_to_the_callback(make_user: Callable[[], ApiUser]) -> None:
    started = make_user().client.get("/api/integrations/quickbooks/connect")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    attributes = [part.strip().lower() for part in started.headers["set-cookie"].split(";")]
    assert attributes[0].endswith("=" + state.lower())
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/api/integrations/quickbooks/callback" in attributes
    assert "secure" not in attributes  # the local stage's service is plain HTTP


def test_the_state_cookie_is_secure_when_the_service_is_served_over_https(
    make_user: Callable[[], ApiUser], service_factory: Callable[..., ServerProcess], sandbox: ServerProcess
) -> None:
    behind_tls = service_factory(**sandbox_service_env(sandbox.url), PUBLIC_URL="https://crm.example")
    token = make_user().token
    started = httpx.get(f"{behind_tls.url}/api/integrations/xero/connect", headers={"Authorization": f"Bearer {token}"})
    assert started.status_code == 302, started.text
    assert "secure" in [part.strip().lower() for part in started.headers["set-cookie"].split(";")]


def test_myob_uses_the_company_file_asked_for(
    make_user: Callable[[], ApiUser], connect: Connect, sandbox_control: httpx.Client
) -> None:
    chosen = next(tenant for tenant in tenants(sandbox_control, MYOB).values() if not tenant["default"])
    both = ",".join(tenants(sandbox_control, MYOB))
    integration = connect(make_user(), "myob", tenant=both, companyFileId=chosen["tenant_id"])
    assert integration["customData"]["companyFileId"] == chosen["tenant_id"]


def test_several_company_files_and_none_chosen_is_a_clear_error(
    make_user: Callable[[], ApiUser], sandbox_control: httpx.Client
) -> None:
    user = make_user()
    with httpx.Client(timeout=30) as browser:
        started = start_in_browser(user.client, browser, "myob")
        all_files = urlencode({"sandbox_tenant": ",".join(tenants(sandbox_control, MYOB))})
        consent = browser.get(started.headers["Location"] + "&" + all_files)
        refused = browser.get(consent.headers["Location"])
    assert refused.status_code == 400
    assert "companyFileId" in refused.json()["error"]["message"]


def test_one_user_connects_two_quickbooks_companies(
    make_user: Callable[[], ApiUser], connect: Connect, sandbox_control: httpx.Client
) -> None:
    user = make_user()
    realms = list(tenants(sandbox_control, QUICKBOOKS))
    first = connect(user, "quickbooks", tenant=realms[0])
    second = connect(user, "quickbooks", tenant=realms[1])
    assert {first["customData"]["realmId"], second["customData"]["realmId"]} == set(realms[:2])
    assert first["id"] != second["id"]
    assert user.client.get("/api/integrations").json()["total"] == 2


def test_reconnecting_updates_the_same_integration(make_user: Callable[[], ApiUser], connect: Connect) -> None:
    user = make_user()
    first = connect(user, "xero", integrationName="books")
    again = connect(user, "xero", integrationName="books")
    assert again["id"] == first["id"]
    assert user.client.get("/api/integrations").json()["total"] == 1


def test_xero_tenant_choice(make_user: Callable[[], ApiUser], connect: Connect, sandbox_control: httpx.Client) -> None:
    chosen = next(tenant for tenant in tenants(sandbox_control, XERO).values() if not tenant["default"])
    both = ",".join(tenants(sandbox_control, XERO))
    integration = connect(make_user(), "xero", tenant=both, tenantId=chosen["tenant_id"])
    assert integration["customData"] == {"tenantId": chosen["tenant_id"], "tenantName": chosen["name"]}
