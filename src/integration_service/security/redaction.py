"""Structured JSON logs that cannot carry a secret.

Every log line, from structlog or from the standard library (uvicorn, SQLAlchemy), passes through
`redact`: values under sensitive keys are replaced, and secret-shaped substrings (bearer tokens,
our API tokens, Stripe keys, webhook secrets, OAuth codes and tokens in query strings) are masked
wherever they appear, including in formatted exceptions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import structlog

REDACTED = "[REDACTED]"

_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?$|secret|token|authorization|api[_-]?key|signature|cookie|credential|private",
    re.IGNORECASE,
)
# `name=value` where the name, taken whole, is a sensitive word or has one at a word start in any naming
# style: `code`, `state`, `client_secret`, `clientSecret`, `apiKey`, `x-api-key`, `refresh_token`,
# `password`. The lookbehind is the word boundary: `\b` would not see one inside `apiKey`.
_SENSITIVE_PARAMETER = re.compile(
    r"(?<![\w.-])(?P<name>(?:[\w.-]*?(?:[_.-]|(?<=[a-z0-9])(?=[A-Z])))?"
    r"(?i:code|state|secret|token|key|pass(?:word|wd)?|pwd|signature|credential|auth)[\w.-]*)"
    r"=[^&\s\"'<>]+"
)
_SECRET_SHAPES = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\bisk_[A-Za-z0-9_-]{8,}"), REDACTED),  # our API tokens
    (re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}"), REDACTED),  # Stripe keys
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]{8,}"), REDACTED),  # webhook signing secrets
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),  # Fernet ciphertexts
    (_SENSITIVE_PARAMETER, r"\g<name>=" + REDACTED),
]


# Every shape above contains one of these (case aside): a text without any cannot hold one, and most log
# values (methods, paths, ids, durations) are such texts, so they are passed over with one search, not six.
_MIGHT_HOLD_A_SECRET = re.compile(r"(?i)bearer|basic|isk_|k_live_|k_test_|whsec_|gaaaaa|=")


def scrub(text: str) -> str:
    if not _MIGHT_HOLD_A_SECRET.search(text):
        return text
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if _SENSITIVE_KEY.search(key) and value is not None and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, item) for item in value]
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the last word before a line is rendered."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout for structlog and the standard library alike, all redacted."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    global _access_handler
    _access_handler = handler
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access line carries the full query string (OAuth codes, API keys) and repeats the one
    # RequestContextMiddleware writes: off, whatever the command line says. uvicorn logs access lines
    # only while the logger has a handler, here or (propagating) above.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False


ACCESS_LOGGER = "integration_service.access"
_access_handler: logging.StreamHandler[Any] | None = None  # configure_logging's handler


def log_access(request_id: str, method: str, path: str, status: int, duration_ms: float) -> None:
    """The access line of one request: the line structlog would render, written straight to the log
    handler's stream. Through structlog and logging it cost ~10 % of the busiest route's CPU at saturation
    (py-spy, issue 16); every field here is the middleware's own, and the path is scrubbed all the same."""
    handler = _access_handler
    if handler is None or not logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO):
        return
    line = json.dumps(
        {
            "method": method,
            "path": scrub(path),
            "status": status,
            "duration_ms": duration_ms,
            "event": "request",
            "request_id": request_id,
            "level": "info",
            "logger": ACCESS_LOGGER,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    )
    with handler.lock or contextlib.nullcontext():  # as StreamHandler.emit: one whole line at a time
        handler.stream.write(line + "\n")
        handler.stream.flush()
