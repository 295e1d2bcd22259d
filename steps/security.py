"""Steps of the security items (SEC-01..SEC-08): the checklist's security items proved by attack.

Canary secrets are looked for in rows; webhooks are forged, replayed and tampered with; injection and
script payloads go into every input the live OpenAPI names; browsers on foreign origins ask for CORS
permission; bursts go past the rate limit. HTTP throughout, SQL only where the item is about the database
(encryption at rest, tables left intact, nothing written by a refused request). The steps of a section
marked "SEC-nn / SECT-nn" are also used by the security testing scenarios (steps/security_testing.py).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from pytest_bdd import given, parsers, then, when

from harness.ops.smoke import stripe_signature
from harness.processes import ServerProcess, ServerStartError
from harness.stack import sandbox_service_env, service_process
from harness.stages import parse_stage, stage_env_file
from steps.common import ApiUser, World, describe, error_code
from steps.config_report import crm_origin
from steps.security_support import (
    INTEGRATIONS,
    SECRET_FIELDS,
    XSS_PAYLOADS,
    assert_not_renderable,
    create_integration,
    delete_afterwards,
    expect_error,
    ignored_stripe_event,
    integration_of,
    leaks,
    make_canaries,
    post_stripe,
    send_burst,
    sql_row,
)

SQL_INJECTIONS = ("' OR 1=1 --", "'; DROP TABLE integrations_credentials; --")
UNION_INJECTION = "x' UNION SELECT id, user_id, integration_name FROM integrations_credentials --"


# --- helpers: the live OpenAPI --------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None  # the resolved JSON body schema

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _openapi(world: World) -> dict[str, Any]:
    if "openapi" not in world.facts:
        response = world.client().get("/openapi.json")
        assert response.status_code == 200, f"the live OpenAPI schema is needed: {describe(response)}"
        world.facts["openapi"] = response.json()
    spec: dict[str, Any] = world.facts["openapi"]
    return spec


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its $ref followed and a nullable union reduced to its non-null branch."""
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    branches = [b for b in schema.get("anyOf", schema.get("oneOf", [])) if b.get("type") != "null"]
    if len(branches) == 1:
        return _resolve(spec, branches[0])
    return schema


def _operations(world: World) -> list[Operation]:
    spec = _openapi(world)
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            parameters = tuple(_resolve(spec, p) for p in operation.get("parameters", []))
            body = _resolve(spec, content["schema"]) if content else None
            found.append(Operation(method.upper(), path, parameters, body))
    return found


_STRING_SAMPLES = ("qa_sample_1", "QA-1234", "usd", "qa@example.com", "abcd")


def _sample(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value the schema accepts (objects with their required properties only)."""
    schema = _resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return _sample_string(schema)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return max(1, int(low))
    if kind == "boolean":
        return True
    if kind == "array":
        return [_sample(spec, schema.get("items", {}))] * max(1, int(schema.get("minItems", 1)))
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {name: _sample(spec, prop) for name, prop in schema.get("properties", {}).items() if name in required}
    return "qa"


def _sample_string(schema: dict[str, Any]) -> str:
    form = schema.get("format")
    if form == "uuid":
        return str(uuid.uuid4())
    if form == "date-time":
        return "2025-01-01T00:00:00Z"
    low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 10_000))
    pattern = schema.get("pattern")
    for candidate in _STRING_SAMPLES:
        if low <= len(candidate) <= high and (pattern is None or re.search(pattern, candidate)):
            return candidate
    return "qa-sample"


def _json_types(spec: dict[str, Any], schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a property accepts; None when the schema does not say (anything goes)."""
    schema = _resolve(spec, schema)
    if "enum" in schema:
        return {"enum"}
    if "anyOf" in schema or "oneOf" in schema:
        kinds: set[str] = set()
        for branch in schema.get("anyOf", schema.get("oneOf", [])):
            branch_kinds = _json_types(spec, branch)
            if branch_kinds is None:
                return None
            kinds |= branch_kinds
        return kinds
    kind = schema.get("type")
    if kind is None:
        return {"object"} if "properties" in schema else None
    return set(kind) if isinstance(kind, list) else {kind}


_WRONG_VALUES: tuple[tuple[str, Any], ...] = (
    ("object", {"qa": [1]}),
    ("array", ["qa"]),
    ("string", "qa-wrong-type"),
    ("integer", 12345),
)


def _wrong_value(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[bool, Any]:
    """(found, a value of a JSON type the property does not accept)."""
    accepted = _json_types(spec, schema)
    if accepted is None:
        return False, None
    for kind, value in _WRONG_VALUES:
        if kind not in accepted and not (kind == "integer" and "number" in accepted):
            return True, value
    return False, None


def _url(operation: Operation, spec: dict[str, Any], overrides: dict[str, str] | None = None) -> str:
    values = {p["name"]: str(_sample(spec, p.get("schema", {}))) for p in operation.parameters if p["in"] == "path"}
    values.update(overrides or {})
    return operation.path.format(**{name: quote(value, safe="") for name, value in values.items()})


def _required_query(operation: Operation, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        p["name"]: _sample(spec, p.get("schema", {}))
        for p in operation.parameters
        if p["in"] == "query" and p.get("required")
    }


def _send(user: ApiUser, method: str, url: str, params: dict[str, Any], body: Any) -> httpx.Response:
    if body is None:
        return user.client.request(method, url, params=params)
    return user.client.request(method, url, params=params, json=body)


def _injections(world: World, *, read_only: bool, payloads: tuple[str, ...]) -> Iterator[tuple[str, Any, Any, Any]]:
    """(method, url, params, body) with one payload in one input; every other input valid."""
    spec = _openapi(world)
    for operation in _operations(world):
        if read_only and operation.method != "GET":
            continue
        body = None if operation.body is None else _sample(spec, operation.body)
        query = _required_query(operation, spec)
        for parameter in operation.parameters:
            for payload in payloads:
                if parameter["in"] == "path":
                    yield operation.method, _url(operation, spec, {parameter["name"]: payload}), query, body
                elif parameter["in"] == "query":
                    yield operation.method, _url(operation, spec), {**query, parameter["name"]: payload}, body
        if read_only or operation.body is None:
            continue
        for name, prop in operation.body.get("properties", {}).items():
            accepted = _json_types(spec, prop) or {"string"}
            for payload in payloads:
                value = {"qaNote": payload} if accepted == {"object"} else [payload] if "array" in accepted else payload
                yield operation.method, _url(operation, spec), query, {**(body or {}), name: value}


# --- SEC-01 / SECT-02: secrets at rest and in answers ---------------------------------------------


@when(parsers.parse('"{name}" connects an integration whose API key, API secret and tokens are canary values'))
def security_connect_with_canaries(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    canaries = make_canaries(*SECRET_FIELDS)
    response = create_integration(request, user, f"qa-canary-{uuid.uuid4().hex[:8]}", **canaries)
    assert response.status_code == 201, f"expected the integration to be created: {describe(response)[:300]}"
    world.facts["canaries"] = canaries
    world.facts["canary_integration"] = integration_of(response)
    world.facts["answers"] = [response]


@then("no column of that integration's row in the database holds a canary, in clear text or merely encoded")
def security_row_has_no_canary(world: World) -> None:
    integration_id = world.facts["canary_integration"]["id"]
    row = sql_row(world, "SELECT to_jsonb(c)::text FROM integrations_credentials c WHERE id = %s", integration_id)
    assert row is not None, f"integration {integration_id} is not in integrations_credentials"
    world.facts["stored_row"] = json.loads(row[0])
    leaked = leaks(row[0], world.facts["canaries"])
    assert not leaked, f"the stored row holds these secrets readable (plain, base64 or hex): {', '.join(leaked)}"


@then("every secret column of that row holds a ciphertext")
def security_secret_columns_hold_ciphertexts(world: World) -> None:
    row: dict[str, Any] = world.facts["stored_row"]
    stems = ("access_token", "refresh_token", "api_key", "api_secret")
    columns = {column: value for column, value in row.items() if column.startswith(stems)}
    missing = [stem for stem in stems if not any(column.startswith(stem) for column in columns)]
    assert not missing, f"no column stores these secrets (columns: {sorted(row)}): {missing}"
    empty = [column for column, value in columns.items() if not isinstance(value, str) or len(value) < 40]
    assert not empty, f"these secret columns hold no ciphertext: {empty}"


# --- SEC-02: HTTPS for every provider call --------------------------------------------------------


@given(parsers.parse("the settings of a {stage} service with every provider on HTTPS"))
def security_https_settings(world: World, stage: str) -> None:
    base_urls = [name for name in sandbox_service_env("https://sandbox.example") if name.endswith("_BASE_URL")]
    world.facts["service_env"] = {
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


@when("the service is started with every provider base URL on plain HTTP")
def security_start_with_plain_http(world: World, request: pytest.FixtureRequest) -> None:
    env = world.facts["service_env"]
    plain = {name: f"http://{name.lower().replace('_', '-')}.example" for name in env if name.endswith("_BASE_URL")}
    world.facts["plain_settings"] = sorted(plain)
    try:
        _start_service(world, request, {**env, **plain})
    except ServerStartError as exc:
        world.facts["start_error"] = str(exc)
    else:
        world.facts["start_error"] = None


@when("the service is started with them")
def security_start_with_https(world: World, request: pytest.FixtureRequest) -> None:
    process = _start_service(world, request, world.facts["service_env"])
    world.response = world.client(base_url=process.url).get("/api/health")


@then("it refuses to start, naming every provider base URL and asking for https")
def security_refused_to_start(world: World) -> None:
    error = world.facts["start_error"]
    assert error is not None, f"the service started as {world.facts['service_env']['STAGE']} with http providers"
    assert "exited" in error, f"expected the service to exit at once; it did not become ready: {error[:300]}"
    refusal = [line for line in error.splitlines() if "https" in line]
    unnamed = [name for name in world.facts["plain_settings"] if not any(name in line for line in refusal)]
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


def _origin(world: World, origin: str) -> str:
    return crm_origin(world) if origin == "the CRM's origin" else origin


def _preflight(world: World, origin: str, method: str, path: str) -> None:
    world.facts["origin"] = origin
    world.facts["method"] = method
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    world.response = world.client().options(path, headers=headers)


@when(
    parsers.re(r"a browser on the CRM's origin asks before sending (?P<method>[A-Z]+) (?P<path>\S+) with an API token")
)
def security_crm_preflight(world: World, method: str, path: str) -> None:
    _preflight(world, crm_origin(world), method, path)


@when(
    parsers.re(
        r'a browser on "(?P<origin>[^"]+)" asks before sending (?P<method>[A-Z]+) (?P<path>\S+) with an API token'
    )
)
def security_foreign_preflight(world: World, origin: str, method: str, path: str) -> None:
    _preflight(world, origin, method, path)


@when(parsers.re(r'"(?P<name>[^"]+)" calls GET (?P<path>\S+) from a browser on (?P<origin>the CRM\'s origin|"[^"]+")'))
def security_call_from_origin(world: World, name: str, path: str, origin: str) -> None:
    world.facts["origin"] = _origin(world, origin.strip('"'))
    world.response = world.user(name).client.get(path, headers={"Origin": world.facts["origin"]})


@then("the preflight allows that origin, the Authorization header and the method")
def security_preflight_allowed(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the preflight allowed: {describe(response)}"
    assert response.headers.get("access-control-allow-origin") == world.facts["origin"], (
        f"expected Access-Control-Allow-Origin {world.facts['origin']}: {dict(response.headers)}"
    )
    allowed_headers = response.headers.get("access-control-allow-headers", "").lower()
    assert "authorization" in allowed_headers, f"Authorization is not an allowed header: {allowed_headers!r}"
    methods = response.headers.get("access-control-allow-methods", "")
    assert world.facts["method"] in methods, f"{world.facts['method']} is not an allowed method: {methods!r}"


@then("the answer lets that origin read it, without cookies")
def security_answer_allows_origin(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the call answered: {describe(response)}"
    assert response.headers.get("access-control-allow-origin") == world.facts["origin"], dict(response.headers)
    assert response.headers.get("access-control-allow-credentials") != "true", "credentials (cookies) are allowed"


@then("the preflight is refused and allows no origin")
def security_preflight_refused(world: World) -> None:
    response = world.last_response()
    allowed = response.headers.get("access-control-allow-origin")
    assert allowed is None, f"a preflight from {world.facts['origin']} was allowed for origin {allowed!r}"
    assert 400 <= response.status_code < 500, f"expected the preflight refused: {describe(response)}"


@then("the answer lets no origin read it")
def security_answer_allows_no_origin(world: World) -> None:
    response = world.last_response()
    allowed = response.headers.get("access-control-allow-origin")
    assert allowed is None, f"a browser on {world.facts['origin']} may read the answer (Allow-Origin {allowed!r})"


# --- SEC-04 / SECT-05: rate limiting --------------------------------------------------------------


@when(
    parsers.re(
        r'"(?P<name>[^"]+)" sends GET (?P<path>\S+) (?P<extra>\d+) times more than '
        r"the stage's rate limit allows in its window"
    )
)
def security_burst(world: World, name: str, path: str, extra: str) -> None:
    send_burst(world, world.user(name), path, int(extra))


@then("exactly the rate limit's number of those requests were answered 200")
def security_burst_allowed_count(world: World) -> None:
    burst, elapsed = world.facts["burst"], world.facts["burst_s"]
    if elapsed >= burst["window_s"]:
        pytest.fail(f"the burst took {elapsed:.0f} s, longer than the {burst['window_s']} s window: inconclusive")
    answered = [r.status_code for r in world.facts["burst_responses"]]
    ok = answered.count(200)
    assert ok == burst["limit"], (
        f"expected exactly {burst['limit']} of {len(answered)} requests answered 200 within {burst['window_s']} s, "
        f"got {ok} (statuses: {sorted(set(answered))})"
    )


@then(parsers.parse('every request past the limit was answered 429 "{code}" with a Retry-After within the window'))
def security_burst_refusals(world: World, code: str) -> None:
    burst = world.facts["burst"]
    refused = [r for r in world.facts["burst_responses"] if r.status_code != 200]
    assert len(refused) == burst["extra"], f"expected {burst['extra']} refusals, got {len(refused)}"
    for response in refused:
        expect_error(response, 429, code)
        retry_after = response.headers.get("retry-after", "")
        assert retry_after.isdigit(), f"expected a Retry-After in seconds, got {retry_after!r}"
        assert 1 <= int(retry_after) <= burst["window_s"], (
            f"expected Retry-After from 1 to {burst['window_s']} s, got {retry_after!r}"
        )


# --- SEC-05 / SECT-03: webhook signatures ---------------------------------------------------------


def _stripe_secret(world: World) -> str:
    if not world.target.stripe_webhook_secret:
        pytest.skip("the stage's Stripe webhook secret (STRIPE_WEBHOOK_SECRETS) is not set: cannot sign events")
    return world.target.stripe_webhook_secret


@given("a Stripe event the service records and ignores")
def security_stripe_event(world: World) -> None:
    world.facts["stripe_event"] = ignored_stripe_event()


@when(parsers.re(r"the event is posted to the Stripe webhook (?P<how>.+)"))
def security_post_stripe_event(world: World, how: str) -> None:
    event = world.facts["stripe_event"]
    body = json.dumps(event).encode()
    secret = _stripe_secret(world)
    if how == "signed with the endpoint's secret":
        post_stripe(world, body, stripe_signature(body, secret))
    elif how == "signed with another secret":
        post_stripe(world, body, stripe_signature(body, "whsec_" + secrets.token_urlsafe(24)))
    elif how == "signed with the endpoint's secret two hours ago":  # a captured delivery, replayed
        post_stripe(world, body, stripe_signature(body, secret, at=int(time.time()) - 7200))
    elif how == "signed with the endpoint's secret, then altered":
        altered = json.dumps({**event, "data": {"object": {**event["data"]["object"], "email": "evil@example.com"}}})
        post_stripe(world, altered.encode(), stripe_signature(body, secret))
    elif how == "without a signature":
        post_stripe(world, body, None)
    else:
        raise ValueError(f"no Stripe delivery {how!r}")


@then("the webhook is refused as not genuine")
def security_webhook_refused(world: World) -> None:
    response = world.last_response()
    expect_error(response, 400)


@then("it is accepted as a new event, so the refused delivery left no trace")
def security_accepted_as_new(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the genuine event accepted: {describe(response)}"
    assert response.json().get("duplicate") is False, f"the refused delivery was recorded: {describe(response)}"
    # A recorded delivery would have shown: the same genuine event again is a duplicate.
    security_post_stripe_event(world, "signed with the endpoint's secret")
    again = world.last_response()
    assert again.status_code == 200, f"expected the redelivery acknowledged: {describe(again)}"
    assert again.json().get("duplicate") is True, f"a recorded event is not reported as a duplicate: {describe(again)}"


# --- SEC-06: input validation on every operation --------------------------------------------------


def _body_probe(spec: dict[str, Any], operation: Operation, problem: str) -> tuple[Any, set[str]] | None:
    """(body, the fields the 422 must name) for one operation; None when the problem does not apply."""
    schema = operation.body or {}
    if problem == "fields of the wrong type":
        body = {}
        for name, prop in schema.get("properties", {}).items():
            found, value = _wrong_value(spec, prop)
            if found:
                body[name] = value
        return (body, set(body)) if body else None
    if problem == "its required fields missing":
        required = set(schema.get("required", []))
        return ({}, required) if required else None
    if problem == "a field the API does not know":
        return {**_sample(spec, schema), "qaUnexpectedField": 1}, {"qaUnexpectedField"}
    raise ValueError(f"no body problem {problem!r}")


@when(parsers.parse('"{name}" sends every JSON-body operation of the live API a body with {problem}'))
def security_send_invalid_bodies(world: World, name: str, problem: str) -> None:
    user, spec = world.user(name), _openapi(world)
    probes = []
    for operation in _operations(world):
        if operation.body is None:
            continue
        probe = _body_probe(spec, operation, problem)
        if probe is not None:
            body, fields = probe
            url = _url(operation, spec)
            probes.append(
                (operation, fields, _send(user, operation.method, url, _required_query(operation, spec), body))
            )
    assert len(probes) >= 5, f"expected the live API to have JSON-body operations to probe, found {len(probes)}"
    world.facts["probes"] = probes


@then(parsers.parse('every one is answered 422 "{code}", naming each offending field'))
def security_probes_refused(world: World, code: str) -> None:
    problems = []
    for operation, fields, response in world.facts["probes"]:
        if response.status_code != 422 or error_code(response) != code:
            problems.append(f"{operation}: expected 422 {code}, got {describe(response)[:300]}")
            continue
        named = {str(detail.get("field", "")) for detail in response.json()["error"].get("details") or []}
        unnamed = sorted(f for f in fields if not any(n == f"body.{f}" or n.startswith(f"body.{f}.") for n in named))
        if unnamed:
            problems.append(f"{operation}: the error does not name {unnamed} (it names {sorted(named)})")
    assert not problems, f"{len(problems)} of {len(world.facts['probes'])} operations:\n" + "\n".join(problems)


# --- SEC-07 / SECT-06: SQL injection --------------------------------------------------------------


@given(parsers.parse('"{name}" has an integration of her own'))
def security_own_integration(world: World, request: pytest.FixtureRequest, name: str) -> None:
    label = f"qa-{name.lower()}-books-{uuid.uuid4().hex[:8]}"
    response = create_integration(request, world.user(name), label, customData={"note": "private"})
    assert response.status_code == 201, f"expected {name}'s integration created: {describe(response)}"
    world.integrations[name] = integration_of(response)


def _table_snapshot(world: World) -> tuple[list[str], str]:
    """The schema's tables and the victim's row, to compare after the attack."""
    tables = sql_row(
        world,
        "SELECT array_agg(table_name::text ORDER BY table_name) FROM information_schema.tables "
        "WHERE table_schema = current_schema()",
    )[0]
    victim = world.integrations["Alice"]["id"]
    row = sql_row(world, "SELECT to_jsonb(c)::text FROM integrations_credentials c WHERE id = %s", victim)
    return list(tables), row[0] if row else ""


@when(
    parsers.re(
        r'"(?P<name>[^"]+)" puts SQL injection payloads in every (?P<scope>.+) of the live API'
        r"(?P<reads>'s read operations)?$"
    )
)
def security_inject_sql(world: World, request: pytest.FixtureRequest, name: str, scope: str, reads: str | None) -> None:
    read_only = bool(reads)
    if not read_only:
        world.facts["tables_before"] = _table_snapshot(world)
    user = world.user(name)
    answers = [
        (method, url, _send(user, method, url, params, body))
        for method, url, params, body in _injections(world, read_only=read_only, payloads=SQL_INJECTIONS)
    ]
    for method, url, response in answers:  # names that are injections are valid names: clean them up
        if method == "POST" and url == INTEGRATIONS and response.status_code == 201:
            delete_afterwards(request, user, integration_of(response)["id"])
    assert len(answers) >= 20, f"expected the live API to have inputs to attack, found {len(answers)}"
    world.facts["attack_answers"] = answers


@then("none of Mallory's requests was answered with a server error")
def security_no_server_error(world: World) -> None:
    broken = [
        f"{response.request.url} → {describe(response)[:300]}"
        for _, _, response in world.facts["attack_answers"]
        if response.status_code == 500 or error_code(response) == "internal_error"
    ]
    assert not broken, f"{len(broken)} injected requests broke the service:\n" + "\n".join(broken[:10])


@then("none of Mallory's answers shows Alice's integration")
def security_no_foreign_data(world: World) -> None:
    victim = world.integrations["Alice"]
    leaked = [
        f"{method} {url} → {response.status_code}"
        for method, url, response in world.facts["attack_answers"]
        if victim["id"] in response.text or victim["integrationName"] in response.text
    ]
    assert not leaked, "these answers to Mallory show Alice's integration:\n" + "\n".join(leaked[:10])


@when(parsers.parse('"{name}" names integrations with the SQL injection payloads'))
def security_name_with_injections(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    created = []
    for injection in (*SQL_INJECTIONS, UNION_INJECTION):
        payload = f"{injection} {uuid.uuid4().hex[:6]}"  # unique: the sweep may have used the bare payload
        response = create_integration(request, user, payload)
        assert response.status_code == 201, f"expected a name like {payload!r} accepted as data: {describe(response)}"
        created.append((payload, integration_of(response)["id"]))
    world.facts["named"] = [(payload, user.client.get(f"{INTEGRATIONS}/{i}")) for payload, i in created]


@then("each name is read back exactly as sent")
def security_names_read_back(world: World) -> None:
    for payload, response in world.facts["named"]:
        assert response.status_code == 200, f"expected the integration readable: {describe(response)}"
        stored = integration_of(response)["integrationName"]
        assert stored == payload, f"the name was changed on the way: sent {payload!r}, read back {stored!r}"


@then("the integration tables are intact, with Alice's integration unchanged")
def security_tables_intact(world: World) -> None:
    before_tables, before_row = world.facts["tables_before"]
    after_tables, after_row = _table_snapshot(world)
    assert after_tables == before_tables, f"tables changed: lost {sorted(set(before_tables) - set(after_tables))}"
    assert after_row, "Alice's integration row was removed by Mallory's requests"
    assert after_row == before_row, "Alice's integration row was changed by Mallory's requests"


# --- SEC-08 / SECT-07: XSS ------------------------------------------------------------------------


@when(parsers.parse('"{name}" stores integrations whose names and custom data hold script payloads'))
def security_store_scripts(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    answers, stored = [], []
    for payload in XSS_PAYLOADS:
        response = create_integration(request, user, payload, customData={"note": payload})
        assert response.status_code == 201, f"expected {payload!r} accepted as a name: {describe(response)}"
        answers.append(response)
        stored.append((payload, integration_of(response)["id"]))
    world.facts["script_answers"], world.facts["script_integrations"] = answers, stored


@when(parsers.parse('"{name}" reads those integrations back, one by one and as a list'))
def security_read_scripts(world: World, name: str) -> None:
    client = world.user(name).client
    world.facts["script_answers"] += [client.get(f"{INTEGRATIONS}/{i}") for _, i in world.facts["script_integrations"]]
    world.facts["script_answers"].append(client.get(INTEGRATIONS))


@then("every answer is JSON with the payloads exactly as sent, and the browser is told not to sniff or render it")
def security_scripts_are_data(world: World) -> None:
    expected = {i: p for p, i in world.facts["script_integrations"]}
    seen = 0
    for response in world.facts["script_answers"]:
        assert response.status_code in (200, 201), f"expected a success: {describe(response)}"
        assert_not_renderable(response)
        body = response.json()
        for integration in body.get("integrations", [body.get("integration")]):
            if integration and integration["id"] in expected:
                payload = expected[integration["id"]]
                assert integration["integrationName"] == payload, f"name altered: {integration['integrationName']!r}"
                assert integration["customData"] == {"note": payload}, (
                    f"customData altered: {integration['customData']}"
                )
                seen += 1
    assert seen == 3 * len(XSS_PAYLOADS), f"expected each payload back in 3 answers, saw {seen} integrations"
