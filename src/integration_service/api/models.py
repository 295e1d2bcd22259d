"""Field types shared by the request and response models of every route."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

# customData holds a few identifiers (a tenant, a company file, a base URL): these limits leave room for
# far more, and keep any value well inside what the JSON parsers and serialisers on its way can handle.
MAX_CUSTOM_DATA_BYTES = 16_384
MAX_CUSTOM_DATA_DEPTH = 16
_SECRET_LOOKING_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|private", re.IGNORECASE)


_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")


def _iso_8601_only(value: object) -> object:
    # pydantic's lax mode reads numbers as Unix timestamps; the schema promises an ISO 8601 date-time,
    # so a number is refused, as the schema says (found by fuzzing: `?until=0.5` was accepted).
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2025-01-31T00:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]
_DIGITS = re.compile(r"-?[0-9]+")


def _decimal_digits(value: object) -> object:
    # pydantic's lax mode reads "0.0", " 1", "+1" and "1_0" (ten) as integers; the schema says integer, so a
    # query or path integer is its digits alone (found by fuzzing: `?offset=0.0` was accepted).
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number in decimal digits")
    return value


# An integer in a query string or path: `Annotated[int, Query(ge=...), DECIMAL_DIGITS]`, after the Query or
# Path (placed before it, the bounds reach the OpenAPI schema as `ge`/`le`, which no JSON Schema reader knows).
DECIMAL_DIGITS = BeforeValidator(_decimal_digits)


def _json_integer(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer, not a boolean or a string")
    return value


# An integer in a JSON body: `Annotated[int, Field(ge=...), JSON_INTEGER]`, after the bounds (as with
# DECIMAL_DIGITS). Pydantic's lax int also reads true, false and "12", which the schema's `integer`
# refuses (a fuzzer sent `totalCycles: false` and a plan was created); 10.0 stays one, as JSON Schema reads it.
JSON_INTEGER = BeforeValidator(_json_integer)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; say so instead of failing at insert time.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def _credential_shape(value: SecretStr) -> SecretStr:
    # Keys and tokens travel in HTTP headers: visible ASCII only, so nothing (not a CR/LF, not a
    # character the header cannot carry) can break or inject into a request made with them later.
    if not _VISIBLE_ASCII.fullmatch(value.get_secret_value()):
        raise ValueError("must be visible ASCII characters only (no spaces, control or non-ASCII characters)")
    return value


class _Node(NamedTuple):
    parent: _Node | None  # None for customData itself
    step: str | int | None  # its key in the parent dict, or its index in the parent list
    level: int  # customData itself is level 1
    value: object

    def path(self) -> str:
        """e.g. customData.accounts[0].name, for messages: built only for one (most values never need it)."""
        steps: list[str] = []
        node: _Node | None = self
        while node is not None and node.parent is not None:
            steps.append(f".{node.step}" if isinstance(node.step, str) else f"[{node.step}]")
            node = node.parent
        return "customData" + "".join(reversed(steps))


def _nodes(custom_data: dict[str, Any]) -> Iterator[_Node]:
    """Every value in customData, walked without recursion and never below the depth limit, so that no
    value, however deep, can exhaust the stack."""
    pending: deque[_Node] = deque([_Node(None, None, 1, custom_data)])
    while pending:
        node = pending.popleft()
        yield node
        if node.level > MAX_CUSTOM_DATA_DEPTH:
            continue
        if isinstance(node.value, dict):
            pending.extend(_Node(node, k, node.level + 1, v) for k, v in node.value.items())
        elif isinstance(node.value, list):
            pending.extend(_Node(node, i, node.level + 1, v) for i, v in enumerate(node.value))


def custom_data_problem(custom_data: dict[str, Any]) -> str | None:
    """Why this customData may not be stored (or, stored by an older version, shown), or None.

    Paths and key names may appear in the answer; values never do (one could be the secret refused).
    Every listed integration's customData passes here on every list: keep the walk cheap."""
    secret_paths: list[str] = []
    for node in _nodes(custom_data):
        value, key = node.value, node.step
        if isinstance(value, dict | list):
            if node.level > MAX_CUSTOM_DATA_DEPTH:
                return f"customData must not nest deeper than {MAX_CUSTOM_DATA_DEPTH} levels ({node.path()[:200]} does)"
        elif isinstance(value, str) and "\x00" in value:
            return f"{node.path()[:200]} must not contain NUL characters"
        if isinstance(key, str):
            if "\x00" in key:
                return f"{node.path()[:200]} must not contain NUL characters"
            if _SECRET_LOOKING_KEY.search(key):
                secret_paths.append(node.path()[:200])
    if secret_paths:
        return (
            f"customData is stored unencrypted and must not hold secrets at any depth ({', '.join(secret_paths[:5])}); "
            "send them as accessToken, refreshToken, apiKey or apiSecret"
        )
    if len(json.dumps(custom_data)) > MAX_CUSTOM_DATA_BYTES:
        return f"customData must serialise to at most {MAX_CUSTOM_DATA_BYTES} bytes"
    return None


def _custom_data_unless_none(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else _custom_data_is_safe(value)


def _custom_data_is_safe(value: dict[str, Any]) -> dict[str, Any]:
    problem = custom_data_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# JSON Schema's (ECMAScript's) \s, spelled out: Python's and Rust's \s differ from it (NEL, BOM, \x1c-\x1f).
_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(map(chr, range(0x2000, 0x200B)))
_NOT_BLANK = "".join(f"\\u{ord(char):04x}" for char in "\x00" + _WHITESPACE)


def _name(value: str) -> str:
    # The limits hold for what is sent, as the schema says; then the surrounding whitespace goes (found by fuzzing:
    # stripping first let 201 characters in under a maxLength of 200).
    _no_nul(value)
    if not value.strip(_WHITESPACE):
        raise ValueError("must contain a character other than whitespace")
    return value.strip(_WHITESPACE)


# The pattern tells clients (and the fuzzer) what `_name` refuses, so that schema-valid names are accepted.
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": f"^[^\\u0000]*[^{_NOT_BLANK}][^\\u0000]*$"}),
    AfterValidator(_name),
]
Secret = Annotated[SecretStr, Field(min_length=1, max_length=8192), AfterValidator(_credential_shape)]
CustomData = Annotated[dict[str, Any], AfterValidator(_custom_data_is_safe)]
# PATCH's customData: checked after the union is resolved, so that an error names `customData` itself
# (not pydantic's union branches), and null stays out of the schema (the route refuses it).
OptionalCustomData = Annotated[dict[str, Any] | SkipJsonSchema[None], AfterValidator(_custom_data_unless_none)]
# A request's booleans are JSON booleans: "yes" or 1 is a mistake to report, not a value to guess at.
Flag = Annotated[bool, Strict()]


class ApiModel(BaseModel):
    """camelCase on the wire (as the seed's clients send it), snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class InputModel(ApiModel):
    """A request body: a field the API does not know is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Page(ApiModel):
    total: int
    limit: int
    offset: int
