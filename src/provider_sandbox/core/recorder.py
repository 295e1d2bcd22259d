"""A ring buffer of the provider calls the sandbox received, with secrets cut down to hints.

Tests and the harness read it through `GET /_sandbox/requests` to check *how* the service called a
provider (headers sent, pages fetched, If-Modified-Since used), not just what it stored.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from provider_sandbox.core.hints import hint

# Headers worth asserting on; anything else a client sends is not recorded.
RECORDED_HEADERS = (
    "authorization",
    "xero-tenant-id",
    "if-modified-since",
    "x-myobapi-key",
    "x-myobapi-version",
    "x-myobapi-cftoken",
    "accept",
    "content-type",
    "user-agent",
    "idempotency-key",
    "intuit_tid",
    "x-api-key",  # recorded (as a hint) so a service sending BillionMail's key the wrong way shows up
)
_SECRET_HEADERS = {"authorization", "x-myobapi-cftoken", "x-api-key"}
_SECRET_PARAMS = {"code", "client_secret", "refresh_token", "access_token", "token"}


def redact_header(name: str, value: str) -> str:
    if name not in _SECRET_HEADERS:
        return value
    scheme, _, credential = value.partition(" ")
    if credential:
        return f"{scheme} {hint(credential)}"
    return hint(value)


def redact_query(params: list[tuple[str, str]]) -> dict[str, str]:
    return {key: (hint(value) if key in _SECRET_PARAMS else value) for key, value in params}


@dataclass
class RecordedRequest:
    seq: int
    at: str
    provider: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    fault_id: int | None


class RequestRecorder:
    def __init__(self, capacity: int) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=capacity)
        self._seq = itertools.count(1)

    def record(
        self,
        at: datetime,
        provider: str,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        status: int,
        fault_id: int | None,
    ) -> RecordedRequest:
        entry = RecordedRequest(
            seq=next(self._seq),
            at=at.isoformat(),
            provider=provider,
            method=method,
            path=path,
            query=redact_query(query),
            headers={name: redact_header(name, headers[name]) for name in RECORDED_HEADERS if name in headers},
            status=status,
            fault_id=fault_id,
        )
        self._entries.append(entry)
        return entry

    def list(
        self, provider: str | None = None, path_contains: str | None = None, since_seq: int = 0
    ) -> list[dict[str, Any]]:
        return [
            asdict(entry)
            for entry in self._entries
            if (provider is None or entry.provider == provider)
            and (path_contains is None or path_contains in entry.path)
            and entry.seq > since_seq
        ]

    def clear(self) -> None:
        self._entries.clear()
