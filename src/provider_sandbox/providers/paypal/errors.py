"""PayPal's error envelopes, and the `Paypal-Debug-Id` header PayPal sends on every response.

Two families answer differently:
- Billing v1 (and every answer that is not tied to one API: authentication, unknown paths, injected
  faults) uses the envelope of PayPal's newer specs: `name` and `message` fixed per status
  (`INVALID_REQUEST`, ...), `details[]` of `{field, value, location, issue, description}` whose issue
  and description come from the operation's documented lists, and `links` to the error's docs.
- Payments v1 keeps its own names (`VALIDATION_ERROR`, `INVALID_RESOURCE_ID`, ...), a free message,
  `information_link`, and details of `{field, issue}` where the issue is the explanation.

Both carry `debug_id`, the same value as the response's `Paypal-Debug-Id` header.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request, Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.core.routing import HttpEndpoint

DEBUG_HEADER = "Paypal-Debug-Id"
# name and message per status, as the billing spec's error_<status> schemas fix them (and PayPal's
# "API responses" page names 405 and 429, which no spec here documents).
STANDARD: dict[int, tuple[str, str]] = {
    400: ("INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates schema."),
    401: (
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to missing authorization header, or invalid authentication credentials.",
    ),
    403: ("NOT_AUTHORIZED", "Authorization failed due to insufficient permissions."),
    404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
    405: ("METHOD_NOT_SUPPORTED", "The server does not implement the requested HTTP method."),
    409: ("RESOURCE_CONFLICT", "The server has detected a conflict while processing this request."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The server does not support the request payload's media type."),
    422: (
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
    ),
    429: ("RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."),
    500: ("INTERNAL_SERVER_ERROR", "An internal server error occurred."),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable."),
}
WITHOUT_DETAILS = (429, 500, 503)  # the spec's error_500/error_503 have no `details`
# The issue wordings the billing spec lists for its 400 and 404 answers.
ISSUES = {
    "INVALID_PARAMETER_VALUE": "The value of a field is invalid.",
    "INVALID_PARAMETER_SYNTAX": "The value of a field does not conform to the expected format.",
    "MISSING_REQUIRED_PARAMETER": "A required field is missing.",
    "MISSING_REQUEST_BODY": "Request body is missing.",
    "INVALID_STRING_MIN_LENGTH": "The value of a field is too short.",
    "INVALID_STRING_MAX_LENGTH": "The value of a field is too long.",
    "INVALID_INTEGER_MIN_VALUE": "The integer value of a field is too small.",
    "INVALID_INTEGER_MAX_VALUE": "The integer value of a field is too large.",
    "UNSUPPORTED_PATCH_OPERATION": "The specified patch operation not supported for this field.",
    "INVALID_PATCH_PATH": "The specified field cannot be patched.",
    "INVALID_RESOURCE_ID": "Specified resource ID does not exist. Please check the resource ID and try again.",
}
REPEATED_PATCH_PATH = "Multiple operations on the same field are not allowed."  # INVALID_PATCH_PATH's other wording
V1_INFO = "https://developer.paypal.com/docs/api/payments/v1/#errors"
BILLING_INFO = "https://developer.paypal.com/docs/api/v1/billing/subscriptions#"
Malformed = Callable[[], "PayPalError"]  # makes the error for a body that is not the JSON expected


def new_debug_id() -> str:
    return secrets.token_hex(7)[:13]  # 13 hex digits, like PayPal's


class PayPalError(Exception):
    """An error answer; `v1` picks the Payments v1 envelope (see the module docstring), `info` the newer
    envelope's documentation link (billing's by default)."""

    def __init__(
        self,
        status: int,
        name: str | None = None,
        message: str | None = None,
        details: list[dict[str, str]] | None = None,
        *,
        v1: bool = False,
        info: str | None = None,
    ) -> None:
        # A status no PayPal document names (an injected 502, say) answers as the nearest one that is.
        standard_name, standard_message = STANDARD.get(status, STANDARD[500 if status >= 500 else 400])
        self.status, self.name = status, name or standard_name
        self.message, self.details, self.v1 = message or standard_message, details or [], v1
        self.info = info or BILLING_INFO + self.name  # the newer envelope's information link
        super().__init__(self.message)

    def body(self, debug_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "message": self.message, "debug_id": debug_id}
        if self.details and self.status not in WITHOUT_DETAILS:
            body["details"] = self.details
        if self.v1:
            body["information_link"] = V1_INFO
        else:
            body["links"] = [{"href": self.info, "rel": "information_link", "method": "GET"}]
        return body

    def response(self, headers: dict[str, str] | None = None) -> Response:
        debug_id = new_debug_id()
        return json_response(self.body(debug_id), self.status, {**(headers or {}), DEBUG_HEADER: debug_id})


def detail(field: str, issue: str, location: str = "body", value: Any = None, description: str = "") -> dict[str, str]:
    """One billing `details[]` entry; the description is the spec's wording for the issue unless given."""
    entry = {"field": field, "location": location, "issue": issue, "description": description or ISSUES[issue]}
    if isinstance(value, str | int) and not isinstance(value, bool):  # the spec's `value` is a string
        entry["value"] = str(value)
    return entry


def bad_field(field: str, issue: str, value: Any = None, location: str = "body") -> PayPalError:
    """A billing 400 INVALID_REQUEST about one field (a JSON pointer in the body, or a query parameter)."""
    return PayPalError(400, details=[detail(field, issue, location, value)])


def unprocessable(issue: str, description: str) -> PayPalError:
    """A billing 422 with one of the operation's documented business issues."""
    return PayPalError(422, details=[{"issue": issue, "description": description}])


def not_found(field: str = "id") -> PayPalError:
    """Billing's 404: RESOURCE_NOT_FOUND with the INVALID_RESOURCE_ID detail."""
    return PayPalError(404, details=[detail(field, "INVALID_RESOURCE_ID", "path")])


def _as_documented(entry: dict[str, str], issues: Collection[str]) -> dict[str, str] | None:
    if entry["issue"] in issues:
        return entry
    if "INVALID_PARAMETER_VALUE" in issues:
        return {**entry, "issue": "INVALID_PARAMETER_VALUE", "description": ISSUES["INVALID_PARAMETER_VALUE"]}
    return None


@contextmanager
def documented(issues: Collection[str]) -> Iterator[None]:
    """Billing 400s raised inside say only what the operation documents: an issue its spec does not
    list becomes INVALID_PARAMETER_VALUE (or, where even that is not listed, the detail is left out).
    E.g. cancel lists only INVALID_STRING_MAX_LENGTH, though its `reason` is required."""
    try:
        yield
    except PayPalError as error:
        if error.status == 400 and not error.v1:
            kept = (_as_documented(entry, issues) for entry in error.details)
            error.details = [entry for entry in kept if entry is not None]
        raise


def v1_invalid(field: str, explanation: str) -> PayPalError:
    """Payments v1's 400 VALIDATION_ERROR: its details name the field and explain the problem."""
    return PayPalError(
        400, "VALIDATION_ERROR", "Invalid request - see details", [{"field": field, "issue": explanation}], v1=True
    )


def v1_not_found() -> PayPalError:
    return PayPalError(404, "INVALID_RESOURCE_ID", "Requested resource ID was not found.", v1=True)


def v1_malformed() -> PayPalError:
    return PayPalError(400, "MALFORMED_REQUEST", "Incoming JSON request does not map to API request", v1=True)


def billing_malformed() -> PayPalError:
    return bad_field("/", "INVALID_PARAMETER_SYNTAX")


async def json_value(request: Request, malformed: Malformed) -> Any:
    """The request's JSON (None for an empty body); `malformed()` is raised when it does not parse."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise malformed() from None


async def json_object(request: Request, malformed: Malformed) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); `malformed()` when it is not one."""
    data = await json_value(request, malformed)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise malformed()
    return data


def guarded(handler: HttpEndpoint) -> HttpEndpoint:
    """PayPalError -> PayPal's error envelope instead of a sandbox 500; every answer gets a debug id."""

    @functools.wraps(handler)
    async def endpoint(*args: Any, **kwargs: Any) -> Response:
        try:
            response = await handler(*args, **kwargs)
        except PayPalError as error:
            return error.response()
        if DEBUG_HEADER not in response.headers:
            response.headers[DEBUG_HEADER] = new_debug_id()
        return response

    return endpoint
