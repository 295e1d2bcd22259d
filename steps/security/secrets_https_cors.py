"""Steps of the security items SEC-01..SEC-03: secrets at rest and in answers (canary values looked for in
the stored row, in clear text or merely encoded), HTTPS for every provider call (a service that refuses
plain-HTTP providers, Strict-Transport-Security), and CORS (browsers on the CRM's and on foreign origins).

The steps of a section marked "SEC-nn / SECT-nn" are also used by the security testing scenarios
(steps/security/security_testing_*.py).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from pytest_bdd import given, parsers, then, when

from harness.core.processes import ServerProcess, ServerStartError
from harness.core.settings import stage_env_file
from harness.core.stages import parse_stage
from harness.stack.local import sandbox_service_env, service_process
from steps.code_and_docs.config_report import ServiceConfig
from steps.common import World, describe
from steps.support.security import (
    SECRET_FIELDS,
    CanaryTrail,
    create_integration,
    integration_of,
    leaks,
    make_canaries,
    sql_row,
)

# --- SEC-01 / SECT-02: secrets at rest and in answers ---------------------------------------------


@when(parsers.parse('"{name}" connects an integration whose API key, API secret and tokens are canary values'))
def security_connect_with_canaries(
    world: World, canary_trail: CanaryTrail, request: pytest.FixtureRequest, name: str
) -> None:
    user = world.user(name)
    canaries = make_canaries(*SECRET_FIELDS)
    response = create_integration(request, user, f"qa-canary-{uuid.uuid4().hex[:8]}", **canaries)
    assert response.status_code == 201, f"expected the integration to be created: {describe(response)[:300]}"
    canary_trail.canaries = canaries
    canary_trail.integration = integration_of(response)
    canary_trail.answers = [response]


@then(
    "no column of that integration's row in the database holds a canary, in clear text or merely encoded",
    target_fixture="stored_row",
)
def security_row_has_no_canary(world: World, canary_trail: CanaryTrail) -> dict[str, Any]:
    integration_id = canary_trail.integration_id()
    row = sql_row(world, "SELECT to_jsonb(c)::text FROM integrations_credentials c WHERE id = %s", integration_id)
    assert row is not None, f"integration {integration_id} is not in integrations_credentials"
    stored: dict[str, Any] = json.loads(row[0])
    leaked = leaks(row[0], canary_trail.canaries)
    assert not leaked, f"the stored row holds these secrets readable (plain, base64 or hex): {', '.join(leaked)}"
    return stored


@then("every secret column of that row holds a ciphertext")
def security_secret_columns_hold_ciphertexts(stored_row: dict[str, Any]) -> None:
    row = stored_row
    stems = ("access_token", "refresh_token", "api_key", "api_secret")
    columns = {column: value for column, value in row.items() if column.startswith(stems)}
    missing = [stem for stem in stems if not any(column.startswith(stem) for column in columns)]
    assert not missing, f"no column stores these secrets (columns: {sorted(row)}): {missing}"
    empty = [column for column, value in columns.items() if not isinstance(value, str) or len(value) < 40]
    assert not empty, f"these secret columns hold no ciphertext: {empty}"


# --- SEC-02: HTTPS for every provider call --------------------------------------------------------


@given(parsers.parse("the settings of a {stage} service with every provider on HTTPS"), target_fixture="https_env")
def security_https_settings(stage: str) -> dict[str, str]:
    base_urls = [name for name in sandbox_service_env("https://sandbox.example") if name.endswith("_BASE_URL")]
    return {
        "STAGE": stage,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_URL": "https://integrations.example",
        "CORS_ALLOWED_ORIGINS": "https://crm.example",
        "PAYPAL_MODE": "sandbox",
        "PAYPAL_LIVE_BASE_URL": "https://api-m.paypal.com",
        **{name: f"https://{name.lower().replace('_', '-')}.example" for name in base_urls},
    }


def _start_service(world: World, request: pytest.FixtureRequest, env: dict[str, str]) -> ServerProcess:
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: a service process needs the stage's database")
    process = service_process(world.target.database_url, world.target.run_dir / "sec-02", env=env)
    request.addfinalizer(process.stop)
    return process.start(timeout_s=90)


@dataclass(frozen=True)
class PlainHttpStart:
    """A start of the service with these provider settings on plain HTTP, and its error (None: it started)."""

    plain_settings: list[str]
    start_error: str | None


@when("the service is started with every provider base URL on plain HTTP", target_fixture="plain_http_start")
def security_start_with_plain_http(
    world: World, request: pytest.FixtureRequest, https_env: dict[str, str]
) -> PlainHttpStart:
    env = https_env
    plain = {name: f"http://{name.lower().replace('_', '-')}.example" for name in env if name.endswith("_BASE_URL")}
    try:
        _start_service(world, request, {**env, **plain})
    except ServerStartError as exc:
        return PlainHttpStart(plain_settings=sorted(plain), start_error=str(exc))
    return PlainHttpStart(plain_settings=sorted(plain), start_error=None)


@when("the service is started with them")
def security_start_with_https(world: World, request: pytest.FixtureRequest, https_env: dict[str, str]) -> None:
    process = _start_service(world, request, https_env)
    world.response = world.client(base_url=process.url).get("/api/health")


@then("it refuses to start, naming every provider base URL and asking for https")
def security_refused_to_start(https_env: dict[str, str], plain_http_start: PlainHttpStart) -> None:
    error = plain_http_start.start_error
    assert error is not None, f"the service started as {https_env['STAGE']} with http providers"
    assert "exited" in error, f"expected the service to exit at once; it did not become ready: {error[:300]}"
    refusal = [line for line in error.splitlines() if "https" in line]
    unnamed = [name for name in plain_http_start.plain_settings if not any(name in line for line in refusal)]
    assert not unnamed, f"the refusal does not name {unnamed} as needing https; its log ends:\n{error[-1500:]}"


@then("it starts, and its answers carry Strict-Transport-Security")
def security_started_with_hsts(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected a healthy service: {describe(response)}"
    assert "max-age" in response.headers.get("strict-transport-security", ""), "no Strict-Transport-Security header"


@then("the stage's service URL uses https")
def security_service_url_https(world: World) -> None:
    scheme = urlsplit(world.target.service_url).scheme
    assert scheme == "https", f"the stage's service is reached over {scheme}://, not https://"


@then("the answer carries Strict-Transport-Security, so the service validated its HTTPS-only settings")
def security_answer_has_hsts(world: World) -> None:
    response = world.last_response()
    hsts = response.headers.get("strict-transport-security", "")
    assert "max-age" in hsts, (
        f"no Strict-Transport-Security: is the service running with STAGE=local? {describe(response)}"
    )


@then("every provider base URL in the stage's settings uses https")
def security_stage_base_urls_https(world: World) -> None:
    path = stage_env_file(parse_stage(world.target.stage), world.target.project_root)
    values = {**(dotenv_values(path) if path.exists() else {}), **os.environ}
    plain = [
        name
        for name, value in values.items()
        if name.endswith("_BASE_URL") and value and not value.startswith("https://")
    ]
    assert not plain, f"these provider base URLs of the stage are not https: {sorted(plain)}"


# --- SEC-03: CORS ---------------------------------------------------------------------------------


def _origin(service_config: ServiceConfig, origin: str) -> str:
    return service_config.crm_origin() if origin == "the CRM's origin" else origin


@dataclass(frozen=True)
class Preflight:
    """A CORS preflight a browser sent: from which origin, for which method."""

    origin: str
    method: str


def _preflight(world: World, origin: str, method: str, path: str) -> Preflight:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    world.response = world.client().options(path, headers=headers)
    return Preflight(origin=origin, method=method)


@when(
    parsers.re(r"a browser on the CRM's origin asks before sending (?P<method>[A-Z]+) (?P<path>\S+) with an API token"),
    target_fixture="preflight",
)
def security_crm_preflight(world: World, service_config: ServiceConfig, method: str, path: str) -> Preflight:
    return _preflight(world, service_config.crm_origin(), method, path)


@when(
    parsers.re(
        r'a browser on "(?P<origin>[^"]+)" asks before sending (?P<method>[A-Z]+) (?P<path>\S+) with an API token'
    ),
    target_fixture="preflight",
)
def security_foreign_preflight(world: World, origin: str, method: str, path: str) -> Preflight:
    return _preflight(world, origin, method, path)


@when(
    parsers.re(r'"(?P<name>[^"]+)" calls GET (?P<path>\S+) from a browser on (?P<origin>the CRM\'s origin|"[^"]+")'),
    target_fixture="browser_origin",
)
def security_call_from_origin(world: World, service_config: ServiceConfig, name: str, path: str, origin: str) -> str:
    browser_origin = _origin(service_config, origin.strip('"'))
    world.response = world.user(name).client.get(path, headers={"Origin": browser_origin})
    return browser_origin


@then("the preflight allows that origin, the Authorization header and the method")
def security_preflight_allowed(world: World, preflight: Preflight) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the preflight allowed: {describe(response)}"
    assert response.headers.get("access-control-allow-origin") == preflight.origin, (
        f"expected Access-Control-Allow-Origin {preflight.origin}: {dict(response.headers)}"
    )
    allowed_headers = response.headers.get("access-control-allow-headers", "").lower()
    assert "authorization" in allowed_headers, f"Authorization is not an allowed header: {allowed_headers!r}"
    methods = response.headers.get("access-control-allow-methods", "")
    assert preflight.method in methods, f"{preflight.method} is not an allowed method: {methods!r}"


@then("the answer lets that origin read it, without cookies")
def security_answer_allows_origin(world: World, browser_origin: str) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the call answered: {describe(response)}"
    assert response.headers.get("access-control-allow-origin") == browser_origin, dict(response.headers)
    assert response.headers.get("access-control-allow-credentials") != "true", "credentials (cookies) are allowed"


@then("the preflight is refused and allows no origin")
def security_preflight_refused(world: World, preflight: Preflight) -> None:
    response = world.last_response()
    allowed = response.headers.get("access-control-allow-origin")
    assert allowed is None, f"a preflight from {preflight.origin} was allowed for origin {allowed!r}"
    assert 400 <= response.status_code < 500, f"expected the preflight refused: {describe(response)}"


@then("the answer lets no origin read it")
def security_answer_allows_no_origin(world: World, browser_origin: str) -> None:
    response = world.last_response()
    allowed = response.headers.get("access-control-allow-origin")
    assert allowed is None, f"a browser on {browser_origin} may read the answer (Allow-Origin {allowed!r})"
