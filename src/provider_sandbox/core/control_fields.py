"""The control API's error and its body and field parsing, shared by every control router."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response

from provider_sandbox.core.framework import json_response


class ControlError(Exception):
    """A mistake in a control call: answered as `{"error", "detail"}` with a 400/404/409."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail

    def response(self) -> Response:
        return json_response({"error": self.error, "detail": self.detail}, self.status)


async def control_body(request: Request) -> dict[str, Any]:
    """A JSON object body (empty -> {}); anything else is a 400 naming the problem."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ControlError(400, "invalid_json", f"request body is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "invalid_json", "request body must be a JSON object")
    return data


def control_count(data: dict[str, Any], name: str, default: int, limit: int = 100_000) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ControlError(400, "invalid_field", f"{name} must be an integer between 0 and {limit}")
    return value


def control_int(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise ControlError(400, "invalid_field", f"{name} must be a positive integer")
    return int(raw)
