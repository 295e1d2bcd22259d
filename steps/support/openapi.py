"""The live OpenAPI, for the security steps that attack every operation: its operations with their
parameters and resolved JSON bodies, values each schema accepts (or a JSON type it refuses), the URL and
required query of an operation, and every input of every operation with one payload in it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from steps.common import ApiUser, World, describe

# --- helpers: the live OpenAPI --------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None  # the resolved JSON body schema
    # The header whose signature authenticates the body (OpenAPI extension x-signed-by): such an
    # operation reads no body it cannot verify, so an unsigned probe is refused as not genuine first.
    signed_by: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class LiveSchema:
    """The service's live OpenAPI schema, fetched on first use and kept for the rest of the scenario."""

    world: World
    fetched: dict[str, Any] | None = None

    def spec(self) -> dict[str, Any]:
        if self.fetched is None:
            response = self.world.client().get("/openapi.json")
            assert response.status_code == 200, f"the live OpenAPI schema is needed: {describe(response)}"
            self.fetched = response.json()
        return self.fetched


@pytest.fixture
def live_schema(world: World) -> LiveSchema:
    return LiveSchema(world)


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


def _operations(world: World, live_schema: LiveSchema) -> list[Operation]:
    spec = live_schema.spec()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            parameters = tuple(_resolve(spec, p) for p in operation.get("parameters", []))
            body = _resolve(spec, content["schema"]) if content else None
            found.append(Operation(method.upper(), path, parameters, body, operation.get("x-signed-by")))
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


def _injections(
    world: World, live_schema: LiveSchema, *, read_only: bool, payloads: tuple[str, ...]
) -> Iterator[tuple[str, Any, Any, Any]]:
    """(method, url, params, body) with one payload in one input; every other input valid."""
    spec = live_schema.spec()
    for operation in _operations(world, live_schema):
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
