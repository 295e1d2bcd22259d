"""Log redaction: secrets under sensitive keys and in secret shapes never reach a log line."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

import pytest
import structlog

from integration_service.security.redaction import REDACTED, configure_logging, redact, scrub
from tests.fixtures.service import ApiUser, RunningService, logged_for_request


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer isk_abcdefghijklmnop",
        "token isk_abcdefghijklmnopqrstu leaked",
        "key sk_live_51HabcdefGHIJKL used",
        "secret whsec_abcdefghijklmnop",
        "GET /callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj",
        "refresh_token=8xLOxBtZp8&grant_type=refresh_token",
        "ciphertext gAAAAABnX1ZabcdefghijklmnopqrstuvwxyzABCD",
    ],
)
def test_secret_shapes_are_masked(text: str) -> None:
    masked = scrub(text)
    assert REDACTED in masked
    for fragment in ("abcdefghijklmnop", "SplxlOBeZQQYbYS6WxSbIA", "af0ifjsldkj", "8xLOxBtZp8", "51Habcdef"):
        assert fragment not in masked


@pytest.mark.parametrize(
    "name",
    ["apiKey", "clientSecret", "accessToken", "x-api-key", "CLIENT_SECRET", "api.key", "oauth_token", "authCode"],
)
def test_query_parameters_named_in_any_style_are_masked(name: str) -> None:
    assert scrub(f"GET /x?page=2&{name}=s3cr3tValue9&b=1") == f"GET /x?page=2&{name}={REDACTED}&b=1"


@pytest.mark.parametrize("text", ["?monkey=banana", "?postcode=3000", "?dataType=invoices", "?keyless"])
def test_a_sensitive_word_inside_another_word_is_not_a_parameter_name(text: str) -> None:
    assert scrub(text) == text


def test_uvicorn_writes_no_access_line_of_its_own() -> None:
    # uvicorn logs an access line (with the query string) only while its logger has a handler.
    configure_logging("INFO")
    try:
        assert not logging.getLogger("uvicorn.access").hasHandlers()
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()


@pytest.mark.db
def test_a_request_is_logged_once_without_its_query_string(
    service: RunningService, make_user: Callable[[], ApiUser]
) -> None:
    request_id = uuid.uuid4().hex
    secrets = {name: f"qaSecret{uuid.uuid4().hex}" for name in ("apiKey", "clientSecret", "accessToken")}
    query = "&".join(f"{name}={value}" for name, value in secrets.items())
    make_user().client.get(f"/api/integrations?{query}", headers={"X-Request-ID": request_id})
    lines = logged_for_request(service.log_path, request_id)
    log = service.log_text()
    assert [secret for secret in secrets.values() if secret in log] == []
    assert [(line["event"], line["path"]) for line in lines] == [("request", "/api/integrations")]


def test_values_under_sensitive_keys_are_replaced_at_any_depth() -> None:
    event = redact(
        None,
        "info",
        {
            "event": "connected",
            "api_key": "k-123",
            "headers": {"Authorization": "xyz", "Accept": "json"},
            "items": [{"client_secret": "s-1"}],
            "error_code": "E42",
            "has_api_key": True,
        },
    )
    assert event["api_key"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert event["items"] == [{"client_secret": REDACTED}]
    assert event["error_code"] == "E42"
    assert event["has_api_key"] is True


def test_configured_logging_redacts_structlog_stdlib_and_exceptions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    try:
        structlog.get_logger("t").info("refreshing", refresh_token="rt-secret-1", url="https://x/cb?code=c0de1")
        logging.getLogger("uvicorn.error").info("Bearer isk_fromthestdlibpath123")
        try:
            raise RuntimeError("failed with password=pw-secret-2")
        except RuntimeError:
            structlog.get_logger("t").exception("boom")
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    text = json.dumps(lines)
    assert len(lines) == 3
    for secret in ("rt-secret-1", "c0de1", "isk_fromthestdlibpath123", "pw-secret-2"):
        assert secret not in text
    assert lines[2]["exception"].startswith("Traceback")
