"""Token refresh: before expiry and on a 401, rotated refresh tokens kept, revocation reported, one
refresh however many requests need it at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, event

from harness.core.processes import ServerProcess
from harness.stack.local import sandbox_service_env
from integration_service.providers.errors import ProviderAuthError
from integration_service.providers.tokens import TokenManager
from integration_service.providers.xero import Xero
from integration_service.security.encryption import SecretBox
from integration_service.settings import DEVELOPMENT_ENCRYPTION_KEY, Settings, sqlalchemy_url
from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import (
    PROVIDERS,
    XERO,
    Provider,
    latest_log,
    new_tenant,
    sandbox_grants,
    sha256,
    stored_tokens,
    sync,
    tenant_choice,
)

pytestmark = pytest.mark.db
SQL = psycopg.Connection[tuple[Any, ...]]
SMALL_TENANT_INVOICES = 150  # two pages at Xero (100 a page), one at MYOB and QuickBooks
TOKEN_PATHS = {"xero": "/connect/token", "myob": "/oauth2/v1/authorize", "quickbooks": "/tokens/bearer"}


def token_requests(control: httpx.Client, provider: Provider, since: int) -> list[dict[str, Any]]:
    listed = control.get(
        "/requests", params={"provider": provider.slug, "path_contains": TOKEN_PATHS[provider.slug], "since_seq": since}
    )
    listed.raise_for_status()
    return [request for request in listed.json() if request["method"] == "POST"]


def last_seq(control: httpx.Client) -> int:
    requests = control.get("/requests").json()
    return max((request["seq"] for request in requests), default=0)


def current_refresh_hashes(control: httpx.Client, provider: Provider) -> set[str]:
    return {grant["current_refresh_sha256"] for grant in sandbox_grants(control, provider)}


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_is_the_one_used_next(
    make_user: Callable[[], ApiUser], connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    user = make_user()
    # A small tenant: each sync needs to make API calls, not to move the default tenant's thousands.
    small = new_tenant(sandbox_control, provider, SMALL_TENANT_INVOICES)
    integration = connect(user, provider.slug, **tenant_choice(provider, small["tenant_id"]))
    access, refresh = stored_tokens(sql, integration["id"])
    for _ in range(2):  # twice: the second refresh only works with the token the first one stored
        sandbox_control.post("/tokens/expire", json={"token": access}).raise_for_status()
        response = sync(user, integration["id"])
        assert response.status_code == 200, response.text
        new_access, new_refresh = stored_tokens(sql, integration["id"])
        assert new_access != access
        assert new_refresh != refresh  # rotated...
        assert sha256(new_refresh) in current_refresh_hashes(sandbox_control, provider)  # ...and the live one
        access, refresh = new_access, new_refresh


def test_a_token_about_to_expire_is_refreshed_before_it_is_used(
    make_user: Callable[[], ApiUser], connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    user = make_user()
    small = new_tenant(sandbox_control, XERO, SMALL_TENANT_INVOICES)
    integration = connect(user, "xero", **tenant_choice(XERO, small["tenant_id"]))
    _, refresh = stored_tokens(sql, integration["id"])
    sql.execute(
        "UPDATE integrations_credentials SET token_expires_at = now() + interval '30 seconds' WHERE id = %s",
        [integration["id"]],
    )
    since = last_seq(sandbox_control)
    assert sync(user, integration["id"]).status_code == 200
    assert stored_tokens(sql, integration["id"])[1] != refresh
    api_calls = sandbox_control.get("/requests", params={"provider": "xero", "since_seq": since}).json()
    assert 401 not in {call["status"] for call in api_calls}  # no request went out with the dying token


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_a_revoked_connection_is_a_clear_error_and_is_not_retried_in_a_loop(
    make_user: Callable[[], ApiUser], connect: Connect, provider: Provider, sandbox_control: httpx.Client, sql: SQL
) -> None:
    user = make_user()
    integration = connect(user, provider.slug)
    access, _ = stored_tokens(sql, integration["id"])
    sandbox_control.post("/tokens/revoke", json={"token": access}).raise_for_status()
    since = last_seq(sandbox_control)

    response = sync(user, integration["id"])
    assert response.status_code == 502
    result = response.json()["result"]
    assert result["status"] == "failed"
    assert "reconnect" in result["message"]
    shown = user.client.get(f"/api/integrations/{integration['id']}").json()["integration"]
    assert shown["syncStatus"] == "ERROR"
    assert "reconnect" in shown["syncError"]
    assert latest_log(sql, integration["id"])["status"] == "failed"
    assert len(token_requests(sandbox_control, provider, since)) == 1  # one refresh attempt, no loop


def test_many_requests_needing_a_refresh_at_once_refresh_once(
    make_user: Callable[[], ApiUser],
    connect: Connect,
    sandbox: ServerProcess,
    sandbox_control: httpx.Client,
    sql: SQL,
    database_url: str,
) -> None:
    integration = connect(make_user(), "xero")
    access, _ = stored_tokens(sql, integration["id"])
    sandbox_control.post("/tokens/expire", json={"token": access}).raise_for_status()
    # As the service reads its environment: strings, which the settings parse.
    environment: dict[str, Any] = {k.lower(): v for k, v in sandbox_service_env(sandbox.url).items()}
    settings = Settings(_env_file=None, **environment)
    engine = create_engine(sqlalchemy_url(database_url), pool_size=10)
    tokens = TokenManager(
        engine,
        SecretBox([SecretStr(DEVELOPMENT_ENCRYPTION_KEY)]),
        Xero(settings).oauth_app(),
        settings,
    )
    since = last_seq(sandbox_control)
    try:
        with ThreadPoolExecutor(8) as pool:
            # Every caller was just told 401 for the old token, as eight parallel API calls would be.
            fresh = set(pool.map(lambda _: tokens.access_token(uuid.UUID(integration["id"]), access), range(8)))
    finally:
        engine.dispose()
    assert len(fresh) == 1
    assert access not in fresh
    assert len(token_requests(sandbox_control, XERO, since)) == 1


def test_a_missing_integration_is_an_auth_error(database_url: str) -> None:
    settings = Settings(_env_file=None)
    engine = create_engine(sqlalchemy_url(database_url))
    tokens = TokenManager(
        engine,
        SecretBox([SecretStr(DEVELOPMENT_ENCRYPTION_KEY)]),
        Xero(settings).oauth_app(),
        settings,
    )
    with pytest.raises(ProviderAuthError, match="no longer exists"):
        tokens.access_token(uuid.uuid4())
    engine.dispose()


def test_a_run_reads_its_token_once_and_again_only_when_the_provider_rejects_it(
    make_user: Callable[[], ApiUser],
    connect: Connect,
    sandbox: ServerProcess,
    sandbox_control: httpx.Client,
    sql: SQL,
    database_url: str,
) -> None:
    integration = connect(make_user(), "xero")
    integration_id = uuid.UUID(integration["id"])
    environment: dict[str, Any] = {k.lower(): v for k, v in sandbox_service_env(sandbox.url).items()}
    settings = Settings(_env_file=None, **environment)
    engine = create_engine(sqlalchemy_url(database_url))
    token_reads: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "access_token_encrypted" in statement:
            token_reads.append(statement)

    tokens = TokenManager(
        engine, SecretBox([SecretStr(DEVELOPMENT_ENCRYPTION_KEY)]), Xero(settings).oauth_app(), settings
    )
    try:
        used = {tokens.access_token(integration_id) for _ in range(5)}  # a run's five pages
        assert used == {stored_tokens(sql, integration["id"])[0]}
        assert len(token_reads) == 1
        since = last_seq(sandbox_control)
        [rejected] = used
        sandbox_control.post("/tokens/expire", json={"token": rejected}).raise_for_status()
        fresh = tokens.access_token(integration_id, rejected)  # the provider answered 401 to it
    finally:
        engine.dispose()
    assert fresh != rejected
    assert fresh == stored_tokens(sql, integration["id"])[0]
    assert len(token_reads) > 1  # the database, not the remembered token
    assert len(token_requests(sandbox_control, XERO, since)) == 1
