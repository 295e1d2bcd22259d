"""Steps of the security scenarios: the checklist's security items proved by attack.

Canary secrets are looked for in responses, rows and the service log; webhooks are forged, replayed
and tampered with; injection and script payloads go into every input the live OpenAPI names; browsers
on foreign origins ask for CORS permission; bursts go past the rate limit; users reach for each other's
integrations. HTTP throughout, SQL only where the item is about the database (encryption at rest, tables
left intact, nothing written by a refused request).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import psycopg
import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from dotenv import dotenv_values
from pytest_bdd import given, parsers, then, when

from harness.ops.smoke import stripe_signature
from harness.processes import ServerProcess, ServerStartError
from harness.stack import sandbox_service_env, service_process
from harness.stages import parse_stage, stage_env_file
from steps.common import ApiUser, World, connect_account, describe, error_code

INTEGRATIONS = "/api/integrations"
SECRET_FIELDS = ("accessToken", "refreshToken", "apiKey", "apiSecret")
SQL_INJECTIONS = ("' OR 1=1 --", "'; DROP TABLE integrations_credentials; --")
UNION_INJECTION = "x' UNION SELECT id, user_id, integration_name FROM integrations_credentials --"
XSS_PAYLOADS = ("<script>alert('qa')</script>", '"><img src=x onerror=alert(1)>', "</script><svg onload=alert(1)>")
FOREIGN_ORIGIN_HEADERS = {"Origin": "https://evil.example"}
BURST_WORKERS = 4
MAX_BURST = 1200  # a limit above this is not burst past inside a scenario
_UNITS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


# --- helpers: the stage's settings ----------------------------------------------------------------


def _stage_setting(world: World, name: str) -> str | None:
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


def _rate_limit(world: World) -> tuple[int, int]:
    """(requests, window in seconds) of the stage's RATE_LIMIT, e.g. `600/minute`."""
    setting = _stage_setting(world, "RATE_LIMIT") or ""
    found = re.fullmatch(r"\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*", setting.split(";")[0])
    if found is None:
        pytest.fail(f"RATE_LIMIT {setting!r} is not of the form N/second|minute|hour|day: cannot plan the burst")
    count, multiple, unit = found.groups()
    return int(count), int(multiple or 1) * _UNITS_S[unit]


def _cors_origin(world: World) -> str:
    origins = [o.strip() for o in (_stage_setting(world, "CORS_ALLOWED_ORIGINS") or "").split(",") if o.strip()]
    if not origins:
        pytest.fail("CORS_ALLOWED_ORIGINS is not known for this stage: set it as the stage's service has it")
    return origins[0]


# --- helpers: integrations, canaries and clean-up -------------------------------------------------


def _expect_error(response: httpx.Response, status: int, code: str | None = None, what: str = "") -> None:
    """The response is `status` in the API's error model (with `code`, when given)."""
    expected = f"{status} {code or 'error'}"
    assert response.status_code == status, f"{what or 'expected ' + expected}: {describe(response)}"
    found = error_code(response)
    assert found is not None, f"expected {expected} in the error model: {describe(response)}"
    assert code is None or found == code, f"{what or 'expected ' + expected}: {describe(response)}"


def _delete_afterwards(request: pytest.FixtureRequest, user: ApiUser, integration_id: str) -> None:
    """Scenarios clean up what they create, so that they may run on staging and production."""

    def delete() -> None:
        with suppress(httpx.HTTPError):  # the scenario's outcome matters more than its clean-up
            user.client.delete(f"{INTEGRATIONS}/{integration_id}")

    request.addfinalizer(delete)


def _create_integration(request: pytest.FixtureRequest, user: ApiUser, name: str, **fields: Any) -> httpx.Response:
    """A XERO integration created with stored tokens: no provider is contacted to create it."""
    body = {"integrationType": "XERO", "integrationName": name, "accessToken": "qa-token", **fields}
    response = user.client.post(INTEGRATIONS, json=body)
    if response.status_code == 201:
        _delete_afterwards(request, user, response.json()["integration"]["id"])
    return response


def _canaries(*fields: str) -> dict[str, str]:
    return {field: f"qaCanary{field[:1].upper()}{field[1:]}{uuid.uuid4().hex}" for field in fields}


def _encodings(secret: str) -> list[str]:
    """The secret as it would appear stored or sent without encryption: plain, base64, hex."""
    raw = secret.encode()
    return [
        secret,
        secret[-32:],  # its random part alone
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


def _leaks(text: str, canaries: dict[str, str]) -> list[str]:
    """The fields whose canary (in any of its encodings) occurs in `text`; never the canary itself."""
    return [field for field, secret in canaries.items() if any(form in text for form in _encodings(secret))]


def _integration_of(response: httpx.Response) -> dict[str, Any]:
    integration: dict[str, Any] = response.json()["integration"]
    return integration


def _sql_row(world: World, sql: str, *params: Any) -> Any:
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: this check reads the stage's database")
    with psycopg.connect(world.target.database_url, autocommit=True) as connection:
        return connection.execute(sql, params).fetchone()


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


# --- helpers: webhooks ----------------------------------------------------------------------------


def _stripe_event() -> dict[str, Any]:
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


def _paypal_event() -> dict[str, Any]:
    return {
        "id": f"WH-QA-{uuid.uuid4().hex}",
        "event_version": "1.0",
        "create_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "resource_type": "sale",
        "event_type": "PAYMENT.SALE.COMPLETED",
        "summary": "Payment completed",
        "resource": {"id": f"QA{uuid.uuid4().hex[:15].upper()}", "state": "completed", "parent_payment": "PAYID-QA"},
    }


def _paypal_headers(cert_url: str, signature: str, transmission_id: str, sent: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": sent,
        "PAYPAL-TRANSMISSION-SIG": signature,
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


def _genuine_paypal_cert_url(world: World) -> str:
    """The sandbox's signing certificate address, as it hands it out when a webhook is registered."""
    control = world.sandbox()
    registered = control.post("/paypal/webhooks", json={"url": "http://127.0.0.1:9/qa", "enabled_events": ["QA.NONE"]})
    assert registered.status_code == 201, f"registering a probe webhook at the sandbox: {registered.text[:300]}"
    control.delete(f"/paypal/webhooks/{registered.json()['webhook_id']}")
    cert_url: str = registered.json()["cert_url"]
    return cert_url


def _impostor_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sandbox.paypal.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def _serve_certificate(request: pytest.FixtureRequest, pem: bytes) -> str:
    """A host that is not PayPal serving a certificate at PayPal's path; its URL. Stopped after the scenario."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.end_headers()
            self.wfile.write(pem)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    request.addfinalizer(stop)
    return f"http://127.0.0.1:{server.server_address[1]}/paypal/certs/CERT-360caa42-fca2a594-qa.pem"


def _paypal_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- SEC-01 / SECT-02: secrets at rest and in answers ---------------------------------------------


@when(parsers.parse('"{name}" connects an integration whose API key, API secret and tokens are canary values'))
def security_connect_with_canaries(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    canaries = _canaries(*SECRET_FIELDS)
    response = _create_integration(request, user, f"qa-canary-{uuid.uuid4().hex[:8]}", **canaries)
    assert response.status_code == 201, f"expected the integration to be created: {describe(response)[:300]}"
    world.facts["canaries"] = canaries
    world.facts["canary_integration"] = _integration_of(response)
    world.facts["answers"] = [response]


@then("no column of that integration's row in the database holds a canary, in clear text or merely encoded")
def security_row_has_no_canary(world: World) -> None:
    integration_id = world.facts["canary_integration"]["id"]
    row = _sql_row(world, "SELECT to_jsonb(c)::text FROM integrations_credentials c WHERE id = %s", integration_id)
    assert row is not None, f"integration {integration_id} is not in integrations_credentials"
    world.facts["stored_row"] = json.loads(row[0])
    leaked = _leaks(row[0], world.facts["canaries"])
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


@when(parsers.parse('"{name}" reads, lists and updates that integration'))
def security_read_list_update(world: World, name: str) -> None:
    user = world.user(name)
    integration_id = world.facts["canary_integration"]["id"]
    renewed = _canaries("apiKey")
    world.facts["canaries"].update({"renewedApiKey": renewed["apiKey"]})
    world.facts["answers"] += [
        user.client.get(f"{INTEGRATIONS}/{integration_id}"),
        user.client.get(INTEGRATIONS),
        user.client.patch(f"{INTEGRATIONS}/{integration_id}", json={"integrationName": "qa-renamed", **renewed}),
    ]


@then("none of the answers holds a canary, in clear text or merely encoded")
def security_answers_hold_no_canary(world: World) -> None:
    for response in world.facts["answers"]:
        assert response.status_code in (200, 201), f"expected a success: {describe(response)[:300]}"
        leaked = _leaks(response.text, world.facts["canaries"])
        method, path = response.request.method, response.request.url.path
        assert not leaked, f"{method} {path} sent these secrets back to the client: {', '.join(leaked)}"


@then("the answers only say that each secret is set")
def security_answers_only_flag_secrets(world: World) -> None:
    integration_id = world.facts["canary_integration"]["id"]
    for response in world.facts["answers"]:
        body = response.json()
        shown = body.get("integration") or next(i for i in body["integrations"] if i["id"] == integration_id)
        exposed = [field for field in SECRET_FIELDS if field in shown]
        assert not exposed, f"{response.request.method} {response.request.url.path} has secret fields: {exposed}"
        unset = [
            f"has{f[:1].upper()}{f[1:]}" for f in SECRET_FIELDS if shown.get(f"has{f[:1].upper()}{f[1:]}") is not True
        ]
        assert not unset, f"expected each secret flagged as set, these are not true: {unset}"


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
    return _cors_origin(world) if origin == "the CRM's origin" else origin


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
    _preflight(world, _cors_origin(world), method, path)


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
    _burst(world, world.user(name), path, int(extra))


def _burst(world: World, user: ApiUser, path: str, extra: int) -> list[httpx.Response]:
    limit, window_s = _rate_limit(world)
    if limit > MAX_BURST:
        pytest.skip(f"RATE_LIMIT allows {limit} requests per {window_s} s: too many to burst past in a scenario")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=BURST_WORKERS) as pool:
        responses = list(pool.map(lambda _: user.client.get(path), range(limit + extra)))
    world.facts["burst"] = {"limit": limit, "window_s": window_s, "extra": extra}
    world.facts["burst_s"] = time.monotonic() - started
    world.facts["burst_responses"] = responses
    return responses


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
        _expect_error(response, 429, code)
        retry_after = response.headers.get("retry-after", "")
        assert retry_after.isdigit(), f"expected a Retry-After in seconds, got {retry_after!r}"
        assert 1 <= int(retry_after) <= burst["window_s"], (
            f"expected Retry-After from 1 to {burst['window_s']} s, got {retry_after!r}"
        )


@then(parsers.parse('"{name}" creating an integration is answered 429 "{code}" and creates nothing'))
def security_limited_write(world: World, name: str, code: str) -> None:
    user = world.user(name)
    response = user.client.post(INTEGRATIONS, json={"integrationType": "XERO", "integrationName": "qa-limited"})
    _expect_error(response, 429, code)
    row = _sql_row(
        world,
        "SELECT count(*) FROM integrations_credentials c JOIN users u ON u.id = c.user_id WHERE u.name = %s",
        user.account,
    )
    assert row[0] == 0, f"the refused request still created {row[0]} integration(s)"


@then(parsers.parse('"{name}" can still list his integrations'))
def security_other_user_unaffected(world: World, name: str) -> None:
    response = world.user(name).client.get(INTEGRATIONS)
    assert response.status_code == 200, f"another user's burst limited {name}: {describe(response)}"


# --- SEC-05 / SECT-03: webhook signatures ---------------------------------------------------------


def _stripe_secret(world: World) -> str:
    if not world.target.stripe_webhook_secret:
        pytest.skip("the stage's Stripe webhook secret (STRIPE_WEBHOOK_SECRETS) is not set: cannot sign events")
    return world.target.stripe_webhook_secret


@given("a Stripe event the service records and ignores")
def security_stripe_event(world: World) -> None:
    world.facts["stripe_event"] = _stripe_event()


def _post_stripe(world: World, body: bytes, signature: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    world.response = world.client().post(f"{INTEGRATIONS}/stripe/webhook", content=body, headers=headers)


@when(parsers.re(r"the event is posted to the Stripe webhook (?P<how>.+)"))
def security_post_stripe_event(world: World, how: str) -> None:
    event = world.facts["stripe_event"]
    body = json.dumps(event).encode()
    secret = _stripe_secret(world)
    if how == "signed with the endpoint's secret":
        _post_stripe(world, body, stripe_signature(body, secret))
    elif how == "signed with another secret":
        _post_stripe(world, body, stripe_signature(body, "whsec_" + secrets.token_urlsafe(24)))
    elif how == "signed with the endpoint's secret two hours ago":  # a captured delivery, replayed
        _post_stripe(world, body, stripe_signature(body, secret, at=int(time.time()) - 7200))
    elif how == "signed with the endpoint's secret, then altered":
        altered = json.dumps({**event, "data": {"object": {**event["data"]["object"], "email": "evil@example.com"}}})
        _post_stripe(world, altered.encode(), stripe_signature(body, secret))
    elif how == "without a signature":
        _post_stripe(world, body, None)
    else:
        raise ValueError(f"no Stripe delivery {how!r}")


@when(parsers.re(r"an unsigned (?P<provider>Stripe|PayPal) event is posted to its webhook"))
def security_post_unsigned(world: World, provider: str) -> None:
    if provider == "Stripe":
        _post_stripe(world, json.dumps(_stripe_event()).encode(), None)
    else:
        body = json.dumps(_paypal_event()).encode()
        headers = {"Content-Type": "application/json"}
        world.response = world.client().post(f"{INTEGRATIONS}/paypal/webhook", content=body, headers=headers)


@then("the webhook is refused as not genuine")
def security_webhook_refused(world: World) -> None:
    response = world.last_response()
    _expect_error(response, 400)


@then(parsers.parse('the webhook is refused as not genuine, with code "{code}"'))
def security_webhook_refused_with(world: World, code: str) -> None:
    response = world.last_response()
    _expect_error(response, 400, code)


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


@given("a PayPal event for the stage's webhook")
def security_paypal_event(world: World) -> None:
    if not world.target.paypal_webhook_id:
        pytest.skip("the stage's PayPal webhook id is not known: cannot address a signature to it")
    world.facts["paypal_event"] = json.dumps(_paypal_event()).encode()


@when(parsers.re(r"the event is posted to the PayPal webhook (?P<forgery>.+)"))
def security_post_forged_paypal(world: World, request: pytest.FixtureRequest, forgery: str) -> None:
    body: bytes = world.facts["paypal_event"]
    transmission_id, sent = str(uuid.uuid4()), _paypal_time()
    if forgery == "with a made-up signature and PayPal's genuine certificate":
        signature = base64.b64encode(secrets.token_bytes(256)).decode()
        headers = _paypal_headers(_genuine_paypal_cert_url(world), signature, transmission_id, sent)
    elif forgery == "signed by a certificate served from a host that is not PayPal":
        key, pem = _impostor_certificate()
        message = f"{transmission_id}|{sent}|{world.target.paypal_webhook_id}|{zlib.crc32(body)}".encode()
        signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
        headers = _paypal_headers(_serve_certificate(request, pem), signature, transmission_id, sent)
    else:
        raise ValueError(f"no PayPal forgery {forgery!r}")
    world.response = world.client().post(f"{INTEGRATIONS}/paypal/webhook", content=body, headers=headers)


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
    response = _create_integration(request, world.user(name), label, customData={"note": "private"})
    assert response.status_code == 201, f"expected {name}'s integration created: {describe(response)}"
    world.integrations[name] = _integration_of(response)


def _table_snapshot(world: World) -> tuple[list[str], str]:
    """The schema's tables and the victim's row, to compare after the attack."""
    tables = _sql_row(
        world,
        "SELECT array_agg(table_name::text ORDER BY table_name) FROM information_schema.tables "
        "WHERE table_schema = current_schema()",
    )[0]
    victim = world.integrations["Alice"]["id"]
    row = _sql_row(world, "SELECT to_jsonb(c)::text FROM integrations_credentials c WHERE id = %s", victim)
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
            _delete_afterwards(request, user, _integration_of(response)["id"])
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
        response = _create_integration(request, user, payload)
        assert response.status_code == 201, f"expected a name like {payload!r} accepted as data: {describe(response)}"
        created.append((payload, _integration_of(response)["id"]))
    world.facts["named"] = [(payload, user.client.get(f"{INTEGRATIONS}/{i}")) for payload, i in created]


@then("each name is read back exactly as sent")
def security_names_read_back(world: World) -> None:
    for payload, response in world.facts["named"]:
        assert response.status_code == 200, f"expected the integration readable: {describe(response)}"
        stored = _integration_of(response)["integrationName"]
        assert stored == payload, f"the name was changed on the way: sent {payload!r}, read back {stored!r}"


@then("the integration tables are intact, with Alice's integration unchanged")
def security_tables_intact(world: World) -> None:
    before_tables, before_row = world.facts["tables_before"]
    after_tables, after_row = _table_snapshot(world)
    assert after_tables == before_tables, f"tables changed: lost {sorted(set(before_tables) - set(after_tables))}"
    assert after_row, "Alice's integration row was removed by Mallory's requests"
    assert after_row == before_row, "Alice's integration row was changed by Mallory's requests"


@then(parsers.parse('"{name}" still reads her integration unchanged'))
def security_victim_unchanged(world: World, name: str) -> None:
    before = world.integrations[name]
    response = world.user(name).client.get(f"{INTEGRATIONS}/{before['id']}")
    assert response.status_code == 200, f"expected {name}'s integration still there: {describe(response)}"
    after = _integration_of(response)
    changed = [key for key in ("integrationName", "isActive", "customData", "updatedAt") if after[key] != before[key]]
    assert not changed, f"{name}'s integration changed: {changed}"


# --- SEC-08 / SECT-07: XSS ------------------------------------------------------------------------


@when(parsers.parse('"{name}" stores integrations whose names and custom data hold script payloads'))
def security_store_scripts(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    answers, stored = [], []
    for payload in XSS_PAYLOADS:
        response = _create_integration(request, user, payload, customData={"note": payload})
        assert response.status_code == 201, f"expected {payload!r} accepted as a name: {describe(response)}"
        answers.append(response)
        stored.append((payload, _integration_of(response)["id"]))
    world.facts["script_answers"], world.facts["script_integrations"] = answers, stored


@when(parsers.parse('"{name}" reads those integrations back, one by one and as a list'))
def security_read_scripts(world: World, name: str) -> None:
    client = world.user(name).client
    world.facts["script_answers"] += [client.get(f"{INTEGRATIONS}/{i}") for _, i in world.facts["script_integrations"]]
    world.facts["script_answers"].append(client.get(INTEGRATIONS))


def _assert_not_renderable(response: httpx.Response) -> None:
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"served as {content_type!r}, not JSON: {describe(response)}"
    assert response.headers.get("x-content-type-options") == "nosniff", f"no nosniff: {dict(response.headers)}"
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in policy, f"no Content-Security-Policy forbidding scripts: {policy!r}"
    response.json()  # raises if it is not JSON


@then("every answer is JSON with the payloads exactly as sent, and the browser is told not to sniff or render it")
def security_scripts_are_data(world: World) -> None:
    expected = {i: p for p, i in world.facts["script_integrations"]}
    seen = 0
    for response in world.facts["script_answers"]:
        assert response.status_code in (200, 201), f"expected a success: {describe(response)}"
        _assert_not_renderable(response)
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


_REFLECTIONS: dict[str, Callable[[httpx.Client, str], httpx.Response]] = {
    "an integration id": lambda client, p: client.get(f"{INTEGRATIONS}/{quote(p, safe='')}"),
    "a query parameter": lambda client, p: client.get(f"{INTEGRATIONS}/logs", params={"syncType": p}),
    "an unknown path": lambda client, p: client.get(f"/api/{quote(p, safe='')}"),
    "a JSON field": lambda client, p: client.post(INTEGRATIONS, json={"integrationType": p, "integrationName": p}),
    "a body that is not JSON": lambda client, p: client.post(
        INTEGRATIONS, content=f"<html><body>{p}</body></html>", headers={"Content-Type": "text/html"}
    ),
}


@when(parsers.re(r'"(?P<name>[^"]+)" sends a script payload in (?P<where>.+)'))
def security_reflect_script(world: World, name: str, where: str) -> None:
    world.response = _REFLECTIONS[where](world.user(name).client, XSS_PAYLOADS[0])


@then("the answer is a JSON error, with the browser told not to sniff or render it")
def security_reflection_is_json(world: World) -> None:
    response = world.last_response()
    assert 400 <= response.status_code < 500, f"expected a 4xx error: {describe(response)}"
    assert error_code(response), f"expected the API's error model: {describe(response)}"
    _assert_not_renderable(response)


# --- SECT-01: canaries in the service log ---------------------------------------------------------


@when(
    parsers.parse(
        '"{name}" sends canary secrets through every route that takes one, where they work and where they fail'
    )
)
def security_canaries_through_routes(world: World, request: pytest.FixtureRequest, name: str) -> None:
    if world.target.sandbox_url is None:
        pytest.fail("this scenario needs the local stage's provider sandbox")
    user = world.user(name)
    canaries = _canaries(*SECRET_FIELDS, "patchedKey", "stripeKey", "paypalId", "paypalSecret", "mailKey", "badKey")
    canaries |= _canaries("bearer", "oauthCode", "oauthState")
    marker = f"qa-sect01-{uuid.uuid4().hex[:12]}"
    headers = {"X-Request-ID": marker}
    client = user.client
    answers = [_create_integration(request, user, f"qa-{marker}", **{f: canaries[f] for f in SECRET_FIELDS})]
    integration_id = answers[0].json().get("integration", {}).get("id", str(uuid.uuid4()))
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("PATCH", f"{INTEGRATIONS}/{integration_id}", {"json": {"apiKey": canaries["patchedKey"]}}),
        ("POST", f"{INTEGRATIONS}/{integration_id}/test", {}),
        ("POST", f"{INTEGRATIONS}/sync", {"json": {"integrationId": integration_id, "dataType": "invoices"}}),
        (
            "POST",
            INTEGRATIONS,
            {"json": {"integrationType": "STRIPE", "integrationName": marker, "apiKey": canaries["stripeKey"]}},
        ),
        (
            "POST",
            INTEGRATIONS,
            {
                "json": {
                    "integrationType": "PAYPAL",
                    "integrationName": marker,
                    "apiKey": canaries["paypalId"],
                    "apiSecret": canaries["paypalSecret"],
                }
            },
        ),
        (
            "POST",
            INTEGRATIONS,
            {
                "json": {
                    "integrationType": "BILLIONMAIL",
                    "integrationName": marker,
                    "apiKey": canaries["mailKey"],
                    "customData": {"baseUrl": f"{world.target.sandbox_url}/billionmail"},
                }
            },
        ),
        (
            "POST",
            INTEGRATIONS,
            {"json": {"integrationType": "XERO", "integrationName": marker, "apiKey": f"{canaries['badKey']} x"}},
        ),
    ]
    for method, path, options in attempts:
        answers.append(client.request(method, path, headers=headers, **options))
    anonymous = world.client(headers=headers)
    answers.append(anonymous.get(INTEGRATIONS, headers={"Authorization": f"Bearer {canaries['bearer']}"}))
    callback = {"code": canaries["oauthCode"], "state": canaries["oauthState"]}
    answers.append(anonymous.get(f"{INTEGRATIONS}/xero/callback", params=callback))
    for response in answers[1:]:
        if response.status_code == 201 and response.request.method == "POST":
            _delete_afterwards(request, user, _integration_of(response)["id"])
    world.facts.update(canaries=canaries, log_marker=marker, answers=answers)


def _service_log(world: World) -> str:
    if world.target.service_log is None or not world.target.service_log.exists():
        pytest.fail("the service log is not available: this check runs in the local stage")
    return world.target.service_log.read_text(errors="replace")


@then("the service log recorded those requests")
def security_log_has_marker(world: World) -> None:
    failed = [describe(r)[:200] for r in world.facts["answers"] if r.status_code == 500]
    assert not failed, "requests carrying canaries broke the service:\n" + "\n".join(failed)
    log = _service_log(world)
    assert world.facts["log_marker"] in log, "the service log does not show this scenario's requests: nothing to search"


@then("the service log holds none of the canary secrets")
def security_log_has_no_canary(world: World) -> None:
    leaked = _leaks(_service_log(world), world.facts["canaries"])
    assert not leaked, f"the service log holds these canary secrets: {', '.join(leaked)}"


# --- SECT-04: CSRF --------------------------------------------------------------------------------


@when(
    parsers.re(
        r"a browser holding Alice's token in its cookies sends (?P<method>GET|POST|DELETE) (?P<path>\S+) "
        r"without an API token"
    )
)
def security_cookie_only_request(world: World, method: str, path: str) -> None:
    token = world.user("Alice").token
    cookies = "; ".join(
        f"{name}={token}" for name in ("session", "token", "access_token", "api_token", "Authorization")
    )
    headers = {"Cookie": cookies, **FOREIGN_ORIGIN_HEADERS}
    body = {"integrationType": "XERO", "integrationName": "qa-csrf"} if method == "POST" else None
    world.response = world.client().request(method, path, headers=headers, json=body)


@when(parsers.re(r"a browser returns to the Xero callback (?P<state>without a state|with a made-up state)"))
def security_callback_without_own_state(world: World, state: str) -> None:
    params = {"code": "qa-code"}
    if state == "with a made-up state":
        params["state"] = secrets.token_urlsafe(32)
    world.response = world.client().get(f"{INTEGRATIONS}/xero/callback", params=params)


def _consent(world: World, consent_url: str) -> str:
    """The provider's consent page, walked by the user's browser: the callback URL it sends back to."""
    consent = world.facts["browser"].get(consent_url)
    assert consent.status_code == 302, f"expected the consent page to send the browser back: {consent.text[:300]}"
    location: str = consent.headers["Location"]
    return location


def _connect_started(world: World, user: ApiUser, provider: str) -> str:
    started = user.client.get(f"{INTEGRATIONS}/{provider}/connect")
    assert started.status_code == 302, f"expected a redirect to {provider}'s consent page: {describe(started)}"
    location: str = started.headers["Location"]
    return location


@when(parsers.parse('"{name}" starts connecting Xero and the provider sends her browser back with a code'))
def security_start_xero_connection(world: World, name: str) -> None:
    world.facts["browser"] = world.client(base_url="")
    world.facts["consent_url"] = _connect_started(world, world.user(name), "xero")
    world.facts["callback_url"] = _consent(world, world.facts["consent_url"])
    world.facts["state"] = parse_qs(urlsplit(world.facts["callback_url"]).query)["state"][0]


@then("Xero's state is refused at the MYOB callback, even with a code MYOB issued for it")
def security_state_refused_elsewhere(world: World) -> None:
    # MYOB's own consent page, handed Xero's state: a genuine MYOB code arrives with a state MYOB never issued.
    myob_consent = urlsplit(_connect_started(world, world.user("Alice"), "myob"))
    query = {**{k: v[0] for k, v in parse_qs(myob_consent.query).items()}, "state": world.facts["state"]}
    callback = _consent(world, myob_consent._replace(query=urlencode(query)).geturl())
    _expect_error(world.facts["browser"].get(callback), 400, what="MYOB's callback took a state issued for Xero")


@then("the Xero callback connects the integration")
def security_callback_connects(world: World, request: pytest.FixtureRequest) -> None:
    response = world.facts["browser"].get(world.facts["callback_url"])
    assert response.status_code == 200, f"expected the genuine callback to connect: {describe(response)}"
    _delete_afterwards(request, world.user("Alice"), _integration_of(response)["id"])


@then("Xero's state is refused when used again, even with a fresh code from Xero")
def security_callback_replay_refused(world: World) -> None:
    fresh = _consent(world, world.facts["consent_url"])  # the consent page again: a new code, the same state
    assert fresh != world.facts["callback_url"], "expected the provider to issue a new code"
    _expect_error(world.facts["browser"].get(fresh), 400, what="a used state was accepted again")


# --- SECT-08: unauthorized access -----------------------------------------------------------------


def _tokens(world: World, kind: str) -> str:
    if kind == "a made-up token":
        return f"Bearer {secrets.token_urlsafe(32)}"
    token = world.user("Alice").token
    if kind == "Alice's token with one character changed":
        return f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}"
    if kind == "Alice's token sent as Basic credentials":
        return "Basic " + base64.b64encode(f"{token}:".encode()).decode()
    if kind == "an empty Bearer token":
        return "Bearer"
    raise ValueError(f"no token kind {kind!r}")


@when(parsers.re(r"a caller with (?P<kind>.+) sends GET (?P<path>\S+)$"))
def security_caller_with_token(world: World, kind: str, path: str) -> None:
    world.response = world.client().get(path, headers={"Authorization": _tokens(world, kind)})


@when(parsers.re(r'"(?P<name>[^"]+)" tries to (?P<action>read|rename|delete|test|sync) Alice\'s integration'))
def security_reach_for_foreign_integration(world: World, name: str, action: str) -> None:
    client, victim = world.user(name).client, world.integrations["Alice"]["id"]
    path = f"{INTEGRATIONS}/{victim}"
    requests: dict[str, Callable[[], httpx.Response]] = {
        "read": lambda: client.get(path),
        "rename": lambda: client.patch(path, json={"integrationName": "qa-taken-over"}),
        "delete": lambda: client.delete(path),
        "test": lambda: client.post(f"{path}/test"),
        "sync": lambda: client.post(f"{INTEGRATIONS}/sync", json={"integrationId": victim, "dataType": "invoices"}),
    }
    world.response = requests[action]()


@given(parsers.parse('"{name}" has connected Xero and synced its contacts'))
def security_connected_and_synced(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    integration = connect_account(world, user, "xero")
    _delete_afterwards(request, user, integration["id"])
    synced = user.client.post(f"{INTEGRATIONS}/sync", json={"integrationId": integration["id"], "dataType": "contacts"})
    assert synced.status_code == 200, f"expected the sync to succeed: {describe(synced)}"
    own = user.client.get(f"{INTEGRATIONS}/logs", params={"integrationId": integration["id"]})
    contacts = user.client.get(f"{INTEGRATIONS}/xero/contacts", params={"integrationId": integration["id"]})
    assert own.json()["total"] > 0, f"expected sync logs to hide from Mallory: {describe(own)}"
    assert contacts.json()["total"] > 0, f"expected contacts to hide from Mallory: {describe(contacts)}"
    world.integrations[name] = integration


@when(parsers.parse('"{name}" lists the sync logs and Xero contacts, unfiltered and filtered by Alice\'s integration'))
def security_list_foreign_records(world: World, name: str) -> None:
    client, victim = world.user(name).client, world.integrations["Alice"]["id"]
    world.facts["foreign_lists"] = [
        client.get(f"{INTEGRATIONS}/{what}", params=params)
        for what in ("logs", "xero/contacts")
        for params in ({}, {"integrationId": victim})
    ]


@then("Mallory sees none of Alice's sync logs or contacts")
def security_foreign_records_hidden(world: World) -> None:
    victim = world.integrations["Alice"]["id"]
    for response in world.facts["foreign_lists"]:
        assert response.status_code in (200, 404), f"expected an empty list or 404: {describe(response)}"
        if response.status_code == 200:
            assert response.json()["total"] == 0, f"Mallory sees Alice's rows: {describe(response)[:400]}"
        assert victim not in response.text, f"Alice's integration id shows: {describe(response)[:400]}"


# --- OPS-APITEST: the API testing procedure -------------------------------------------------------


@when(
    parsers.parse(
        '"{name}" walks an integration through the API: create, list, read, update, its logs and records, delete'
    )
)
def security_walk_integration(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    created = _create_integration(request, user, f"qa-walk-{uuid.uuid4().hex[:8]}")
    steps: list[tuple[str, int, httpx.Response]] = [("GET /api/health", 200, world.client().get("/api/health"))]
    steps.append(("POST /api/integrations", 201, created))
    assert created.status_code == 201, f"expected the integration created: {describe(created)}"
    integration_id = _integration_of(created)["id"]
    path = f"{INTEGRATIONS}/{integration_id}"
    client = user.client
    steps += [
        ("GET /api/integrations", 200, client.get(INTEGRATIONS)),
        ("GET /api/integrations/{id}", 200, client.get(path)),
        ("PATCH /api/integrations/{id}", 200, client.patch(path, json={"integrationName": "qa-walk-renamed"})),
        (
            "GET /api/integrations/logs",
            200,
            client.get(f"{INTEGRATIONS}/logs", params={"integrationId": integration_id}),
        ),
        (
            "GET /api/integrations/xero/invoices",
            200,
            client.get(f"{INTEGRATIONS}/xero/invoices", params={"integrationId": integration_id}),
        ),
        ("DELETE /api/integrations/{id}", 204, client.delete(path)),
    ]
    world.facts["walk"] = steps
    world.facts["walked_id"] = integration_id
    listed = steps[2][2].json().get("integrations", []) if steps[2][2].status_code == 200 else []
    world.facts["walk_listed"] = any(i["id"] == integration_id for i in listed)


@then("every step was answered with its success status")
def security_walk_succeeded(world: World) -> None:
    failed = [
        f"{label}: expected {status}, {describe(r)[:200]}"
        for label, status, r in world.facts["walk"]
        if r.status_code != status
    ]
    assert not failed, "\n".join(failed)
    assert world.facts["walk_listed"], "the new integration was not in the user's list"


@then("the deleted integration is no longer found")
def security_walk_deleted(world: World) -> None:
    user = next(iter(world.users.values()))
    response = user.client.get(f"{INTEGRATIONS}/{world.facts['walked_id']}")
    _expect_error(response, 404, "not_found")


@when(parsers.re(r'"(?P<name>[^"]+)" sends a request with (?P<error>.+)'))
def security_send_bad_request(world: World, name: str, error: str) -> None:
    user = world.user(name)
    sync = f"{INTEGRATIONS}/sync"
    valid = {"integrationId": str(uuid.uuid4()), "dataType": "invoices"}
    if error == "a required field missing":
        world.response = user.client.post(sync, json={"dataType": "invoices"})
    elif error == "an integration id not hers":
        world.response = user.client.post(sync, json=valid)
    elif error == "an integration id not an id":
        world.response = user.client.post(sync, json={**valid, "integrationId": "not-an-id"})
    elif error == "no API token":
        world.response = world.client().post(sync, json=valid)
    elif error == "malformed JSON":
        world.response = user.client.post(
            sync, content=b'{"integrationId": ', headers={"Content-Type": "application/json"}
        )
    elif error == "the rate limit exceeded":
        responses = _burst(world, user, INTEGRATIONS, 1)
        world.response = next((r for r in responses if r.status_code == 429), responses[-1])
    else:
        raise ValueError(f"no bad request {error!r}")
