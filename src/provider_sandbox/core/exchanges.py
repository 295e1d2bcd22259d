"""The exchange log: every response the sandbox gives for a provider the harness can judge (an official
spec for Xero and PayPal, the official SDK's types for Stripe), written whole (status, headers, body) as
one JSON line, so that the harness can check it afterwards (`harness.gates.fidelity`, the release
report's "Provider fidelity").

Off unless `SANDBOX_EXCHANGE_LOG` names a file. Token values in bodies are cut out before writing (the
log is evidence kept with a report); their type stays a string, which is all a spec can say of them.
Responses of an injected fault are marked: they are the test's choice, not the simulation's.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provider_sandbox.core.recorder import redact_query

# The providers with an official OpenAPI document in ../shared/provider-specs, and Stripe (its SDK).
SPECIFIED_PREFIXES = ("/xero/", "/paypal/", "/stripe/")
# Xero's browser login: no spec covers it, and its redirects carry authorization codes.
UNLOGGED_PREFIXES = ("/xero/login/",)
MAX_LOGGED_BODY = 2**20  # a larger body is logged as truncated, and the harness does not judge it
_SECRET_KEYS = ("token", "secret", "password", "code_verifier", "client_assertion")
FAULT_STATE_KEY = "sandbox_fault"  # set in the request's state by the fault injection


def fault_marker(scope: Scope, rule_id: int) -> None:
    """Mark this request's response as an injected fault's (read when the exchange is logged)."""
    scope.setdefault("state", {})[FAULT_STATE_KEY] = rule_id


def without_secrets(value: Any) -> Any:
    """The JSON value with every token- or secret-named string replaced by a placeholder."""
    if isinstance(value, dict):
        return {key: _kept(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def _kept(key: str, item: Any) -> Any:
    secret_named = any(part in key.lower() for part in _SECRET_KEYS)
    return "redacted" if secret_named and isinstance(item, str) else without_secrets(item)


def _body_text(body: bytes, content_type: str) -> tuple[str | None, bool]:
    if len(body) > MAX_LOGGED_BODY:
        return None, True
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type and text:
        try:
            return json.dumps(without_secrets(json.loads(text))), False
        except ValueError:
            return text, False
    return text, False


class ExchangeLog:
    """Pure ASGI middleware appending each specified provider's exchange to `path` as a JSON line."""

    def __init__(self, app: ASGIApp, *, path: Path) -> None:
        self.app = app
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not path.startswith(SPECIFIED_PREFIXES) or path.startswith(UNLOGGED_PREFIXES):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []
        expected: list[int] = []  # the declared Content-Length, if any
        written = False

        async def capture(message: Message) -> None:
            nonlocal written
            if message["type"] == "http.response.start":
                start.update(message)
                expected.extend(int(v) for k, v in message.get("headers", []) if k.lower() == b"content-length")
            elif message["type"] == "http.response.body" and not written:
                chunks.append(message.get("body", b""))
                body = b"".join(chunks)
                # Logged before the client has the whole body (all its declared bytes, or the last message):
                # whoever reads the log after an answer finds it there.
                if not message.get("more_body", False) or (expected and len(body) >= expected[0]):
                    written = True
                    self._write(scope, start, body)
            await send(message)

        await self.app(scope, receive, capture)

    def _write(self, scope: Scope, start: Message, body: bytes) -> None:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in start.get("headers", [])}
        text, truncated = _body_text(body, headers.get("content-type", ""))
        record = {
            "method": scope["method"],
            "path": scope["path"],
            "query": redact_query(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)),
            "status": start["status"],
            "headers": headers,
            "body": text,
            "truncated": truncated,
            "fault": scope.get("state", {}).get(FAULT_STATE_KEY),
        }
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
