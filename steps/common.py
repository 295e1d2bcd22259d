"""What every scenario shares: the stage it runs against, its own users, HTTP calls and their answers.

A scenario makes its own users and data (user names carry a random suffix), so scenarios are
independent and run in any order, on a fresh stage or on one that earlier runs left data in; when it
ends, passed or failed, its users are removed with their tokens, integrations and rows, so a staging
or production run leaves nothing behind. Steps talk to the stage over HTTP (and SQL where the
checklist item is about the database); they never import the service.

A scenario tagged `@sandbox` needs the provider sandbox's control API (fault injection, token expiry,
seeding); on a stage without one (no QA_SANDBOX_URL) it is skipped, never passed.
"""

from __future__ import annotations

import functools
import json
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import Engine

from harness.core.tls import client_verify
from harness.gates.scenario_target import ScenarioTarget
from harness.stack.oauth import connect_via_oauth
from harness.stack.tokens import database_engine, issue_token_on, remove_users

HTTP_TIMEOUT_S = 30.0
NO_SANDBOX = "needs the provider sandbox: the stage has no SANDBOX_URL"


@functools.cache
def shared_verify(ca_bundle: Path | None) -> ssl.SSLContext:
    """What every client of the run passes as `verify=`: one SSL context for the stage's trust (building one,
    certifi's bundle loaded, costs ~30 ms: once per client, that was most of a scenario that asks the sandbox
    about each of hundreds of records). The same trust as `client_verify`, built as httpx builds it."""
    verify = client_verify(ca_bundle)
    return verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)


@dataclass
class ApiUser:
    name: str  # as the scenario calls them ("Alice")
    account: str  # the user's name in the service: unique per scenario run
    token: str
    client: httpx.Client  # sends the user's Bearer token


@dataclass
class World:
    """What one scenario has made and seen. A fresh one per scenario."""

    target: ScenarioTarget
    # The stage's database for issuing and removing the scenario's users: one pool for the whole run
    # (None: each call connects on its own).
    engine: Engine | None = None
    users: dict[str, ApiUser] = field(default_factory=dict)
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # by the scenario's label
    response: httpx.Response | None = None
    _clients: list[httpx.Client] = field(default_factory=list)
    _sandbox: httpx.Client | None = None

    def user(self, name: str) -> ApiUser:
        """The user the scenario calls `name`, created with a token on first mention."""
        if name not in self.users:
            if self.target.database_url is None:
                pytest.fail("QA_DATABASE_URL is not set: scenarios create their own users on the stage's database")
            account = f"qa-{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:10]}"
            token = issue_token_on(
                self.target.database_url, self.target.stage, account, "checklist scenario", engine=self.engine
            )
            client = self.client(headers={"Authorization": f"Bearer {token}"})
            self.users[name] = ApiUser(name=name, account=account, token=token, client=client)
        return self.users[name]

    def client(self, base_url: str | None = None, **options: Any) -> httpx.Client:
        """An HTTP client to the service (or `base_url`), closed when the scenario ends."""
        client = httpx.Client(
            base_url=base_url or self.target.service_url,
            timeout=HTTP_TIMEOUT_S,
            verify=shared_verify(self.target.ca_bundle),
            **options,
        )
        self._clients.append(client)
        return client

    def sandbox_url(self) -> str:
        """The provider sandbox's base URL; the scenario must be tagged `@sandbox` to ask for it."""
        if self.target.sandbox_url is None:
            pytest.fail(f"this scenario uses the provider sandbox but is not tagged @sandbox ({NO_SANDBOX})")
        return self.target.sandbox_url

    def sandbox(self) -> httpx.Client:
        """The provider sandbox's control API (`/_sandbox/...`): one client for the scenario."""
        if self._sandbox is None:
            self._sandbox = self.client(base_url=f"{self.sandbox_url()}/_sandbox")
        return self._sandbox

    def last_response(self) -> httpx.Response:
        assert self.response is not None, "no request was sent yet in this scenario"
        return self.response

    def close(self) -> None:
        """Close the clients and remove the scenario's users with everything they own."""
        for client in self._clients:
            client.close()
        if self.users and self.target.database_url is not None:
            accounts = [user.account for user in self.users.values()]
            remove_users(self.target.database_url, accounts, engine=self.engine)


@pytest.fixture(scope="session")
def target() -> ScenarioTarget:
    return ScenarioTarget.from_env()


@pytest.fixture(scope="session")
def stage_database(target: ScenarioTarget) -> Iterator[Engine | None]:
    """The stage's database, connected once for the run: every scenario issues and removes its users through it."""
    if target.database_url is None:
        yield None
        return
    engine = database_engine(target.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def world(target: ScenarioTarget, stage_database: Engine | None) -> Iterator[World]:
    world = World(target=target, engine=stage_database)
    yield world  # the teardown runs when the scenario failed too
    world.close()


@pytest.hookimpl(trylast=True)  # after pytest-bdd put the scenario on record: the report shows why it skipped
def pytest_bdd_before_scenario(request: pytest.FixtureRequest) -> None:
    """`@sandbox` scenarios are skipped (reported skipped, never passed) on a stage without the sandbox."""
    target: ScenarioTarget = request.getfixturevalue("target")
    if request.node.get_closest_marker("sandbox") is not None and target.sandbox_url is None:
        pytest.skip(NO_SANDBOX)


def describe(response: httpx.Response) -> str:
    """A response as an assertion message shows it: method, path, status and the start of the body."""
    return f"{response.request.method} {response.request.url.path} → {response.status_code}: {response.text[:800]}"


def error_code(response: httpx.Response) -> str | None:
    """The `error.code` of the service's one error model, or None when the body is not that model."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def connect_account(
    world: World, user: ApiUser, provider: str, tenant: str | None = None, **query: str
) -> dict[str, Any]:
    """Connect `provider` for `user` through the real OAuth flow, the user's browser walking it."""
    browser = world.client(base_url="")  # the consent page and the callback carry no API token
    return connect_via_oauth(user.client, browser, provider, tenant, **query)


# --- shared steps ---------------------------------------------------------------------------------


@given(parsers.parse('a user "{name}" signed in with an API token'))
def a_signed_in_user(world: World, name: str) -> None:
    world.user(name)


@when(parsers.re(r'"(?P<name>[^"]+)" sends (?P<method>GET|POST|PUT|PATCH|DELETE) (?P<path>\S+)$'))
def user_sends(world: World, name: str, method: str, path: str) -> None:
    world.response = world.user(name).client.request(method, path)


@when(parsers.re(r'"(?P<name>[^"]+)" sends (?P<method>POST|PUT|PATCH) (?P<path>\S+) with the body:$'))
def user_sends_body(world: World, name: str, method: str, path: str, docstring: str) -> None:
    world.response = world.user(name).client.request(method, path, json=json.loads(docstring))


@when(parsers.re(r"an anonymous caller sends (?P<method>GET|POST|PUT|PATCH|DELETE) (?P<path>\S+)$"))
def anonymous_sends(world: World, method: str, path: str) -> None:
    world.response = world.client().request(method, path)


@then(parsers.parse("the response status is {status:d}"))
def response_status_is(world: World, status: int) -> None:
    response = world.last_response()
    assert response.status_code == status, f"expected {status}: {describe(response)}"


@then(parsers.parse('the response is an error with code "{code}"'))
def response_error_code(world: World, code: str) -> None:
    response = world.last_response()
    assert error_code(response) == code, f'expected an error with code "{code}": {describe(response)}'
