"""Field types shared by the request and response models of every route."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

MAX_CUSTOM_DATA_BYTES = 16_384
_SECRET_LOOKING_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|private", re.IGNORECASE)


_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")


def _iso_8601_only(value: object) -> object:
    # pydantic's lax mode reads numbers as Unix timestamps; the schema promises an ISO 8601 date-time,
    # so a number is refused, as the schema says (found by fuzzing: `?until=0.5` was accepted).
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2025-01-31T00:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]


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


def _walk_strings(value: Any) -> None:
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            _walk_strings(item)


def _custom_data_is_safe(value: dict[str, Any]) -> dict[str, Any]:
    secret_keys = [key for key in value if _SECRET_LOOKING_KEY.search(key)]
    if secret_keys:
        raise ValueError(
            f"customData is stored unencrypted and must not hold secrets ({', '.join(secret_keys)}); "
            "send them as accessToken, refreshToken, apiKey or apiSecret"
        )
    _walk_strings(value)
    if len(json.dumps(value)) > MAX_CUSTOM_DATA_BYTES:
        raise ValueError(f"customData must serialise to at most {MAX_CUSTOM_DATA_BYTES} bytes")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]
Secret = Annotated[SecretStr, Field(min_length=1, max_length=8192), AfterValidator(_credential_shape)]
CustomData = Annotated[dict[str, Any], AfterValidator(_custom_data_is_safe)]
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
