"""Xero's wire format: MS-JSON dates, query-parameter rules (paging, booleans, id lists), and the problem
(401/403/404/429/5xx) and validation (400) error bodies.

Record shapes are in shapes.py, `where`/`order` in where.py. Shapes follow Xero's published OpenAPI
(xero_accounting.yaml); tests validate real responses against it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Response

from provider_sandbox.core.framework import json_response

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
UNIT_DECIMALS = (2, 4)  # Xero rounds unit amounts to 2 places; `unitdp=4` opts in to 4


class XeroQueryError(ValueError):
    """A bad where/order/paging parameter; rendered as Xero's 400 error body."""

    def __init__(self, message: str, error_type: str = "ValidationException", number: int = 10) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.number = number


def ms_json(moment: datetime) -> str:
    """Xero's MS-JSON timestamp, e.g. `/Date(1518685950940+0000)/`."""
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def ms_json_date(day: date) -> str:
    return ms_json(midnight_utc(day))


def midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def xero_date_string(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


def parse_if_modified_since(raw: str) -> datetime:
    """Accept ISO 8601 (what Xero's SDKs send) and RFC 1123 HTTP dates; naive means UTC."""
    value = raw.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise XeroQueryError(f"If-Modified-Since header is not a valid date: {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- query parameters ---------------------------------------------------------------------------


def page_params(page_raw: str | None, size_raw: str | None) -> tuple[int | None, int]:
    """(page, page size). Without `page` the listing is unpaged (Xero's legacy form) and `pageSize`, though
    still checked, has nothing to size: Xero applies it to paged requests only."""

    def positive(name: str, raw: str) -> int:
        if not raw.isdigit() or int(raw) < 1:
            raise XeroQueryError(f"{name} must be a positive integer, got {raw!r}")
        return int(raw)

    page = positive("page", page_raw) if page_raw is not None else None
    size = positive("pageSize", size_raw) if size_raw is not None else DEFAULT_PAGE_SIZE
    if size > MAX_PAGE_SIZE:
        raise XeroQueryError(f"pageSize must be at most {MAX_PAGE_SIZE}")
    return page, size


def bool_param(raw: str | None, name: str) -> bool | None:
    """A boolean query parameter (`true`/`false`, any case); None when absent."""
    if raw is None:
        return None
    if raw.strip().lower() not in ("true", "false"):
        raise XeroQueryError(f"The value '{raw}' is not valid for {name}: use true or false")
    return raw.strip().lower() == "true"


def list_param(raw: str | None) -> list[str] | None:
    """A comma-separated list (`explode: false` in the spec); the quotes of the spec's examples are allowed."""
    if raw is None:
        return None
    return [item for item in (_unquoted(part) for part in raw.split(",")) if item]


def _unquoted(item: str) -> str:
    return item.strip().strip('"').strip()


def uuid_list_param(raw: str | None, name: str) -> set[str] | None:
    """A comma-separated list of GUIDs, lower-cased as the sandbox keeps them; a malformed one is a 400."""
    items = list_param(raw)
    if items is None:
        return None
    try:
        return {str(uuid.UUID(item)) for item in items}
    except ValueError:
        raise XeroQueryError(f"{name} must be a comma-separated list of GUIDs, got {raw!r}") from None


def unit_decimals(raw: str | None) -> int:
    """`unitdp`: decimal places of UnitAmount. Xero documents only 4 (opt-in) beside its default 2; any
    other value is refused rather than guessed at."""
    if raw is None:
        return UNIT_DECIMALS[0]
    if not raw.strip().isdigit() or int(raw) not in UNIT_DECIMALS:
        raise XeroQueryError(f"unitdp must be one of {list(UNIT_DECIMALS)}, got {raw!r}")
    return int(raw)


# --- errors -------------------------------------------------------------------------------------

PROBLEM_TITLES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    500: "An error occurred",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
NOT_FOUND = "The resource you're looking for cannot be found"


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {
        "Type": None,
        "Title": PROBLEM_TITLES.get(status, "Error"),
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return json_response(body, status, headers)


def record_not_found() -> Response:
    """A single record (Invoices/{id}, Contacts/{id}) that does not exist: Xero answers one sentence in plain
    text, not a problem document (contract/provider-shapes/xero-404.toml names the sources)."""
    return Response(NOT_FOUND, 404, media_type="text/plain")


def rate_limited(limit_problem: str, retry_after_s: int, remaining: dict[str, str], message: str | None) -> Response:
    """Xero's 429: how long to wait (Retry-After, seconds) and which limit was hit (X-Rate-Limit-Problem:
    minute, day or appminute), beside the usual X-*Limit-Remaining headers."""
    headers = {**remaining, "Retry-After": str(retry_after_s), "X-Rate-Limit-Problem": limit_problem}
    return problem(429, message or "Rate limit exceeded", headers)


def validation_error(error: XeroQueryError) -> Response:
    body = {"ErrorNumber": error.number, "Type": error.error_type, "Message": str(error), "Elements": []}
    return json_response(body, 400)
