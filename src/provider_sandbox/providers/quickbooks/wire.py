"""QuickBooks' wire format: the `Fault` error envelope (with Intuit's `intuit_tid` header)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.providers.quickbooks.entities import qbo_time

FAULT_TYPES = {
    400: "ValidationFault",
    401: "AUTHENTICATION",
    403: "AUTHORIZATION",
    404: "ValidationFault",
    429: "SERVICE",
}


def fault(
    now: datetime,
    status: int,
    message: str,
    detail: str,
    code: str,
    fault_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "Fault": {
            "Error": [{"Message": message, "Detail": detail, "code": code}],
            "type": fault_type or FAULT_TYPES.get(status, "SystemFault"),
        },
        "time": qbo_time(now, millis=True),
    }
    return json_response(body, status, {"intuit_tid": str(uuid.uuid4()), **(headers or {})})
