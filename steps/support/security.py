"""Helpers shared by the security step modules (security, security testing, API testing): the stage's
settings, integrations made and cleaned up, canary secrets, webhook events, bursts and renderable answers.
"""

from __future__ import annotations

import base64
import os
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from dotenv import dotenv_values

from harness.core.processes import ServerProcess
from harness.core.settings import stage_env_file
from harness.core.stages import parse_stage
from harness.stack.local import service_process
from steps.common import ApiUser, World, describe, error_code

INTEGRATIONS = "/api/integrations"
SECRET_FIELDS = ("accessToken", "refreshToken", "apiKey", "apiSecret")
XSS_PAYLOADS = ("<script>alert('qa')</script>", '"><img src=x onerror=alert(1)>', "</script><svg onload=alert(1)>")
BURST_WORKERS = 4
MAX_BURST = 1200  # a limit above this is not burst past inside a scenario
UNITS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


# --- helpers: the stage's settings ----------------------------------------------------------------


def stage_setting(world: World, name: str) -> str | None:
    """A service setting as the stage has it: the environment, then the stage's env file, then the
    documented default in `.env.example` (the service falls back to the same defaults)."""
    if os.environ.get(name):
        return os.environ[name]
    root = world.target.project_root
    for path in (stage_env_file(parse_stage(world.target.stage), root), root / ".env.example"):
        if path.exists():
            value = dotenv_values(path).get(name)
            if value:
                return value
    return None


def rate_limit(world: World) -> tuple[int, int]:
    """(requests, window in seconds) of the stage's RATE_LIMIT, e.g. `600/minute`."""
    setting = stage_setting(world, "RATE_LIMIT") or ""
    found = re.fullmatch(r"\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*", setting.split(";")[0])
    if found is None:
        pytest.fail(f"RATE_LIMIT {setting!r} is not of the form N/second|minute|hour|day: cannot plan the burst")
    count, multiple, unit = found.groups()
    return int(count), int(multiple or 1) * UNITS_S[unit]


def start_own_service(world: World, request: pytest.FixtureRequest, env: dict[str, str]) -> ServerProcess:
    """A service process of the scenario's own on the stage's database (local stage: it runs the same
    code as the stage's service), stopped when the scenario ends. For what must not touch the stage's
    own process: another key, limits spent on purpose, counters read alone."""
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: a service process needs the stage's database")
    prefix = f"integrations:qa-own-{uuid.uuid4().hex[:8]}"  # counters of its own, in Redis too
    settings = {"REDIS_KEY_PREFIX": prefix, **({"REDIS_URL": world.target.redis_url} if world.target.redis_url else {})}
    process = service_process(world.target.database_url, world.target.run_dir / "own-services", env=settings | env)
    request.addfinalizer(process.stop)
    return process.start(timeout_s=90)


def assert_limited(burst: Burst, allowed_status: int, allowed_code: str | None) -> None:
    """The burst's first `limit` answers were `allowed_status`, every one past it 429 with a Retry-After."""
    if burst.elapsed_s >= burst.window_s:
        pytest.fail(f"the burst took {burst.elapsed_s:.0f} s, longer than the {burst.window_s} s window: inconclusive")
    answered = burst.responses
    allowed = [response for response in answered if response.status_code == allowed_status]
    assert len(allowed) == burst.limit, (
        f"expected exactly {burst.limit} of {len(answered)} requests answered {allowed_status}, got {len(allowed)} "
        f"(statuses: {sorted({response.status_code for response in answered})})"
    )
    for response in allowed if allowed_code else []:
        expect_error(response, allowed_status, allowed_code)
    for response in (response for response in answered if response.status_code != allowed_status):
        expect_error(response, 429, "rate_limited")
        retry_after = response.headers.get("retry-after", "")
        assert retry_after.isdigit(), f"expected a Retry-After in seconds, got {retry_after!r}"
        assert 1 <= int(retry_after) <= burst.window_s, f"Retry-After {retry_after} s outside the window"


# --- helpers: integrations, canaries and clean-up -------------------------------------------------


def expect_error(response: httpx.Response, status: int, code: str | None = None, what: str = "") -> None:
    """The response is `status` in the API's error model (with `code`, when given)."""
    expected = f"{status} {code or 'error'}"
    assert response.status_code == status, f"{what or 'expected ' + expected}: {describe(response)}"
    found = error_code(response)
    assert found is not None, f"expected {expected} in the error model: {describe(response)}"
    assert code is None or found == code, f"{what or 'expected ' + expected}: {describe(response)}"


def delete_afterwards(request: pytest.FixtureRequest, user: ApiUser, integration_id: str) -> None:
    """Scenarios clean up what they create, so that they may run on staging and production."""

    def delete() -> None:
        with suppress(httpx.HTTPError):  # the scenario's outcome matters more than its clean-up
            user.client.delete(f"{INTEGRATIONS}/{integration_id}")

    request.addfinalizer(delete)


def create_integration(request: pytest.FixtureRequest, user: ApiUser, name: str, **fields: Any) -> httpx.Response:
    """A XERO integration created with stored tokens: no provider is contacted to create it."""
    body = {"integrationType": "XERO", "integrationName": name, "accessToken": "qa-token", **fields}
    response = user.client.post(INTEGRATIONS, json=body)
    if response.status_code == 201:
        delete_afterwards(request, user, response.json()["integration"]["id"])
    return response


@dataclass(frozen=True)
class Burst:
    """A burst past the stage's rate limit: the limit it aimed at, how long it took and every answer."""

    limit: int
    window_s: int
    extra: int  # requests sent past the limit
    elapsed_s: float
    responses: list[httpx.Response]


@dataclass
class CanaryTrail:
    """Canary secrets a scenario sent and the answers they came back in, looked for in answers, rows and logs."""

    canaries: dict[str, str] = field(default_factory=dict)
    answers: list[httpx.Response] = field(default_factory=list)
    integration: dict[str, Any] | None = None  # the integration made with canary secrets
    log_marker: str | None = None  # a value every request carried, to find them in the service log

    def integration_id(self) -> str:
        assert self.integration is not None, "no integration was made with canary secrets in this scenario"
        return str(self.integration["id"])


@pytest.fixture
def canary_trail() -> CanaryTrail:
    return CanaryTrail()


def make_canaries(*fields: str) -> dict[str, str]:
    return {field: f"qaCanary{field[:1].upper()}{field[1:]}{uuid.uuid4().hex}" for field in fields}


def secret_encodings(secret: str) -> list[str]:
    """The secret as it would appear stored or sent without encryption: plain, base64, hex."""
    raw = secret.encode()
    return [
        secret,
        secret[-32:],  # its random part alone
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


def leaks(text: str, canaries: dict[str, str]) -> list[str]:
    """The fields whose canary (in any of its encodings) occurs in `text`; never the canary itself."""
    return [field for field, secret in canaries.items() if any(form in text for form in secret_encodings(secret))]


def integration_of(response: httpx.Response) -> dict[str, Any]:
    integration: dict[str, Any] = response.json()["integration"]
    return integration


def sql_row(world: World, sql: str, *params: Any) -> Any:
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: this check reads the stage's database")
    with psycopg.connect(world.target.database_url, autocommit=True) as connection:
        return connection.execute(sql, params).fetchone()


# --- helpers: webhooks ----------------------------------------------------------------------------


def ignored_stripe_event() -> dict[str, Any]:
    """An event the service records and ignores: unlike an event about an unknown charge (which stays
    open for a redelivery to apply), a second delivery of it is acknowledged as a duplicate."""
    customer = {"id": f"cus_qa_{uuid.uuid4().hex}", "object": "customer", "email": "qa@example.com"}
    return {
        "id": f"evt_qa_{uuid.uuid4().hex}",
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": customer},
    }


def burst_plan(world: World) -> tuple[int, int]:
    """The stage's rate limit as (requests, window in seconds), if a scenario can burst past it.

    A limit too high to reach fails the scenario: a rate limit nobody can hit protects nothing, and a
    skip would hide exactly that."""
    limit, window_s = rate_limit(world)
    if limit > MAX_BURST:
        pytest.fail(
            f"RATE_LIMIT allows {limit} requests per {window_s} s: more than the {MAX_BURST} a burst can reach, "
            "so no flood is ever refused; set a limit a client can actually hit"
        )
    return limit, window_s


def send_burst(world: World, user: ApiUser, path: str, extra: int) -> Burst:
    return burst(world, [user.client], path, extra)


def burst(
    world: World,
    clients: list[httpx.Client],
    path: str,
    extra: int,
    headers: Callable[[int], dict[str, str]] = lambda _: {},
) -> Burst:
    """GET `path` `extra` times more than the stage's limit allows, concurrently: request n goes
    through `clients[n % len(clients)]` with `headers(n)`."""
    limit, window_s = burst_plan(world)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=BURST_WORKERS) as pool:
        responses = list(
            pool.map(lambda n: clients[n % len(clients)].get(path, headers=headers(n)), range(limit + extra))
        )
    return Burst(limit=limit, window_s=window_s, extra=extra, elapsed_s=time.monotonic() - started, responses=responses)


def post_stripe(world: World, body: bytes, signature: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    world.response = world.client().post(f"{INTEGRATIONS}/stripe/webhook", content=body, headers=headers)


def assert_not_renderable(response: httpx.Response) -> None:
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"served as {content_type!r}, not JSON: {describe(response)}"
    assert response.headers.get("x-content-type-options") == "nosniff", f"no nosniff: {dict(response.headers)}"
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in policy, f"no Content-Security-Policy forbidding scripts: {policy!r}"
    response.json()  # raises if it is not JSON
