"""The one error model: every bad request gets a clear 4xx in the same JSON shape, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from cryptography.fernet import Fernet

from harness.core.processes import ServerProcess
from tests.fixtures.service import ApiUser, logged_for_request

pytestmark = pytest.mark.db


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    error: dict[str, object] = body["error"]
    return error


def test_malformed_json_is_400(make_user: Callable[[], ApiUser]) -> None:
    response = make_user().client.post(
        "/api/integrations",
        content=b'{"integrationType": "XERO",',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "malformed_json")


def test_missing_required_fields_are_named(make_user: Callable[[], ApiUser]) -> None:
    error = assert_error(make_user().client.post("/api/integrations", json={}), 422, "validation_failed")
    fields = {detail["field"] for detail in error["details"]}  # type: ignore[attr-defined]
    assert fields == {"body.integrationType", "body.integrationName"}


@pytest.mark.parametrize(
    "body",
    [
        {"integrationType": "XERO", "integrationName": "a\x00b"},
        {"integrationType": "XERO", "integrationName": ""},
        {"integrationType": "XERO", "integrationName": "x" * 201},
        {"integrationType": "XERO", "integrationName": "ok", "unexpected": 1},
        {"integrationType": "XERO", "integrationName": "ok", "customData": {"k": "\x00"}},
        {"integrationType": "XERO", "integrationName": "ok", "customData": {"blob": "x" * 20_000}},
        {"integrationType": "XERO", "integrationName": "ok", "customData": []},
        {"integrationType": 7, "integrationName": "ok"},
        [],
    ],
)
def test_invalid_bodies_are_422(make_user: Callable[[], ApiUser], body: object) -> None:
    assert_error(make_user().client.post("/api/integrations", json=body), 422, "validation_failed")


def test_an_empty_patch_is_422(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    created = user.client.post("/api/integrations", json={"integrationType": "XERO", "integrationName": "a"})
    response = user.client.patch(f"/api/integrations/{created.json()['integration']['id']}", json={})
    assert_error(response, 422, "validation_failed")


def test_an_integration_id_that_is_not_a_uuid_names_no_resource(make_user: Callable[[], ApiUser]) -> None:
    # Ids are UUIDs: anything else is a path that names nothing (and never collides with /logs or /sync).
    assert_error(make_user().client.get("/api/integrations/xero-staging"), 404, "not_found")


def test_a_405_names_the_methods_the_path_serves(make_user: Callable[[], ApiUser]) -> None:
    client = make_user().client
    assert client.put("/api/integrations/logs").headers["Allow"] == "GET"
    assert client.get("/api/integrations/sync").headers["Allow"] == "POST"


def test_oversized_body_is_413(make_user: Callable[[], ApiUser]) -> None:
    client = make_user().client
    huge = b'{"integrationType": "XERO", "integrationName": "' + b"x" * 2_000_000 + b'"}'
    declared = client.post("/api/integrations", content=huge, headers={"Content-Type": "application/json"})
    assert_error(declared, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(40):
            yield b"x" * 65_536

    streamed = client.post("/api/integrations", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(streamed, 413, "payload_too_large")


def test_missing_and_invalid_tokens_are_401(anonymous: httpx.Client) -> None:
    missing = anonymous.get("/api/integrations")
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    invalid = anonymous.get("/api/integrations", headers={"Authorization": "Bearer isk_not-a-real-token"})
    assert_error(invalid, 401, "unauthorized")
    assert_error(anonymous.get("/api/integrations/logs"), 401, "unauthorized")


def test_unknown_routes_and_methods_use_the_error_model(make_user: Callable[[], ApiUser]) -> None:
    client = make_user().client
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.put("/api/integrations"), 405, "method_not_allowed")


def test_every_response_carries_security_headers(anonymous: httpx.Client) -> None:
    for response in (
        anonymous.get("/api/health"),
        anonymous.get("/api/integrations"),
        anonymous.get("/nope"),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Request-ID"]


def test_an_unexpected_error_is_a_500_with_the_security_headers_and_the_request_id(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser]
) -> None:
    # A process whose ENCRYPTION_KEYS cannot read what the first one stored: decrypting fails unforeseen.
    user = make_user()
    created = user.client.post(
        "/api/integrations", json={"integrationType": "XERO", "integrationName": "x", "accessToken": "qa"}
    )
    other_key = service_factory(ENCRYPTION_KEYS=Fernet.generate_key().decode())
    request_id = uuid.uuid4().hex
    with httpx.Client(base_url=other_key.url, headers={"Authorization": f"Bearer {user.token}"}) as client:
        response = client.post(
            f"/api/integrations/{created.json()['integration']['id']}/test", headers={"X-Request-ID": request_id}
        )
    assert_error(response, 500, "internal_error")
    assert response.headers["X-Request-ID"] == request_id
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    logged = logged_for_request(other_key.log_path, request_id)
    assert [line["event"] for line in logged] == ["unhandled error", "request"]
    assert "Exception in ASGI application" not in other_key.log_path.read_text()


def test_cors_allows_only_listed_origins(anonymous: httpx.Client) -> None:
    allowed = anonymous.get("/api/health", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    foreign = anonymous.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    preflight = anonymous.options(
        "/api/integrations",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_bursts_past_the_rate_limit_get_429_with_retry_after(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser]
) -> None:
    limited = service_factory(RATE_LIMIT="5/minute")
    token = make_user().token
    with httpx.Client(base_url=limited.url, headers={"Authorization": f"Bearer {token}"}) as client:
        statuses = [client.get("/api/integrations").status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5
        assert statuses[5:] == [429, 429]
        refused = client.get("/api/integrations")
        error = assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert error["details"] == {"retry_after_s": int(refused.headers["Retry-After"])}
        # Health stays reachable for load balancers while a client is throttled.
        assert client.get("/api/health").status_code == 200
