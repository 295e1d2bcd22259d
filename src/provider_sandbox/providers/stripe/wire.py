"""Stripe's request encoding, parameter checks and error envelope.

Stripe takes `application/x-www-form-urlencoded` bodies (and query strings) with nested keys:
`metadata[plan]=gold`, `items[0][price]=price_1`, `expand[]=customer`, `created[gte]=1700000000`.
The official SDKs index arrays (`expand[0]=...`); hand-written clients use `[]`. Both decode to the
same nested dicts and lists here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Response

from provider_sandbox.core.framework import json_response

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_PARAMS = 1000


class StripeError(Exception):
    """An error in Stripe's envelope: `{"error": {"type", "message", "code", "param", ...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return json_response({"error": error}, self.status, self.headers)


def invalid(message: str, param: str | None = None, code: str | None = "parameter_invalid") -> StripeError:
    return StripeError(400, message, code=code, param=param)


def missing(param: str) -> StripeError:
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def decode(raw: str) -> dict[str, Any]:
    """Nested params from a form body or query string; malformed keys are a 400, never a 500."""
    pairs = parse_qsl(raw, keep_blank_values=True)
    if len(pairs) > MAX_PARAMS:
        raise invalid(f"Too many parameters (at most {MAX_PARAMS}).")
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise invalid(f"Invalid parameter name: {key}", key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _insert(root, parts, value, key)
    return _listify(root)  # type: ignore[no-any-return]


def _insert(node: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if part == "":  # `expand[]=a&expand[]=b`: append under the next free index
            part = str(sum(1 for k in node if k.isdigit()))
        if last:
            if isinstance(node.get(part), dict):
                raise invalid(f"Invalid value for {key}: it is given both as a hash and a scalar.", key)
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise invalid(f"Invalid value for {key}: it is given both as a hash and a scalar.", key)
        node = child


def _listify(node: Any) -> Any:
    """Dicts whose keys are all indices become lists, in index order."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


# --- typed access to decoded params ----------------------------------------------------------


def as_int(
    params: dict[str, Any], name: str, *, minimum: int = 0, default: int | None = None, param_name: str | None = None
) -> int | None:
    raw, label = params.get(name), param_name or name
    if raw is None or raw == "":
        return default
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d{1,18}", raw):
        raise invalid(f"Invalid integer: {raw}", label)
    value = int(raw)
    if value < minimum:
        raise invalid(f"Invalid {label}: must be at least {minimum}", label)
    return value


def as_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in ("true", "false"):
        raise invalid(f"Invalid boolean: {raw}", name)
    return bool(raw == "true")


def as_str(params: dict[str, Any], name: str, required: bool = False) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(raw, str):
        raise invalid(f"Invalid string: {name} must be a string, not a hash or array", name)
    return raw


def as_metadata(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    """Stripe merges metadata; an empty value deletes a key; `metadata=` clears it all."""
    raw = params.get("metadata")
    result = dict(current or {})
    if raw is None:
        return result
    if raw == "":
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise invalid("Invalid hash: metadata must be a hash of strings", "metadata")
    if len(raw) > 50:
        raise invalid("Metadata can have at most 50 keys", "metadata")
    for key, value in raw.items():
        if value == "":
            result.pop(key, None)
        else:
            result[key] = value
    return result


def as_expand(params: dict[str, Any]) -> list[str]:
    raw = params.get("expand")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise invalid("Invalid array: expand must be an array of strings", "expand")
    return list(raw)


def as_currency(params: dict[str, Any], required: bool = True) -> str | None:
    value = as_str(params, "currency", required)
    if value is not None and not re.fullmatch(r"[a-zA-Z]{3}", value):
        raise invalid(f"Invalid currency: {value}", "currency")
    return value.lower() if value else None
