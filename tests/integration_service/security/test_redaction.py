"""Log redaction: secrets under sensitive keys and in secret shapes never reach a log line."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from integration_service.security.redaction import REDACTED, configure_logging, redact, scrub


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
