"""MYOB's wire format: the `Errors` array every failure uses, and the invoice as Sale/Invoice shows it."""

from __future__ import annotations

from fastapi import Response

from provider_sandbox.core.framework import json_response

_INFORMATION = "Warning, error messages have not been finalised in this release and may change"
ERROR_NAMES = {
    400: "BadRequest",
    401: "OAuthTokenIsInvalid",
    403: "AccessDenied",
    404: "NotFound",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
STATUS = {"DRAFT": "Open", "AUTHORISED": "Open", "PAID": "Closed", "VOIDED": "Closed"}
LINK_SAFE = "$',:"  # keep NextPageLink readable, as MYOB's own links are
INVOICE_TYPES = ("Item", "Service", "Professional", "TimeBilling", "Miscellaneous")


def errors(
    status: int,
    name: str,
    message: str,
    details: str | None = None,
    code: int = 0,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "Errors": [
            {
                "Name": name,
                "Message": message,
                "AdditionalDetails": details,
                "ErrorCode": code,
                "Severity": "Error",
                "LearnMore": None,
            }
        ],
        "Information": _INFORMATION,
    }
    return json_response(body, status, headers)
