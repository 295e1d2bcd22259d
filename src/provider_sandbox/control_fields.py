"""Body and field parsing for provider control routers (errors in the control API's shape)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from provider_sandbox.control import ControlError


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
