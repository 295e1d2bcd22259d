"""Xero's wire format: MS-JSON dates, Invoice/Contact shapes, where/order/paging rules, and the
problem (401/403/404/429/5xx) and validation (400) error bodies.

Shapes follow Xero's published OpenAPI (xero_accounting.yaml); tests validate real responses
against it. routes.py serves them; simulator.py renders errors and throttling with them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import Tenant

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


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
    return ms_json(datetime.combine(day, time(), tzinfo=UTC))


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


def _line_id(invoice: Invoice, index: int) -> str:
    return str(uuid.uuid5(uuid.UUID(invoice.key), f"line-{index}"))


def contact_ref(contact: Contact) -> dict[str, Any]:
    return {"ContactID": contact.key, "Name": contact.company, "HasValidationErrors": False}


def render_invoice(invoice: Invoice, tenant: Tenant, with_lines: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Type": "ACCREC",
        "InvoiceID": invoice.key,
        "InvoiceNumber": invoice.number,
        "Reference": invoice.reference,
        "Payments": [],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": invoice.amount_due,
        "AmountPaid": invoice.amount_paid,
        "AmountCredited": 0.0,
        "CurrencyRate": 1.0,
        "IsDiscounted": False,
        "HasAttachments": False,
        "HasErrors": False,
        "Contact": contact_ref(tenant.contact(invoice.contact_seq)),
        "DateString": xero_date_string(invoice.issued),
        "Date": ms_json_date(invoice.issued),
        "DueDateString": xero_date_string(invoice.due),
        "DueDate": ms_json_date(invoice.due),
        "Status": invoice.status,
        "LineAmountTypes": "Exclusive",
        "SubTotal": invoice.subtotal,
        "TotalTax": invoice.total_tax,
        "Total": invoice.total,
        "UpdatedDateUTC": ms_json(invoice.updated_at),
        "CurrencyCode": invoice.currency,
    }
    if invoice.paid_on is not None:
        body["FullyPaidOnDate"] = ms_json_date(invoice.paid_on)
    if with_lines:  # Xero returns line items only on paged (or single-invoice) requests
        body["LineItems"] = [
            {
                "LineItemID": _line_id(invoice, index),
                "Description": line.description,
                "Quantity": line.quantity,
                "UnitAmount": line.unit_amount,
                "TaxType": "OUTPUT" if invoice.tax_rate else "NONE",
                "TaxAmount": round(line.amount * invoice.tax_rate, 2),
                "LineAmount": line.amount,
                "AccountCode": "200",
                "Tracking": [],
            }
            for index, line in enumerate(invoice.lines)
        ]
    return body


def render_contact(contact: Contact) -> dict[str, Any]:
    return {
        "ContactID": contact.key,
        "ContactStatus": "ARCHIVED" if contact.archived else "ACTIVE",
        "Name": contact.company,
        "FirstName": contact.first_name,
        "LastName": contact.last_name,
        "EmailAddress": contact.email,
        "BankAccountDetails": "",
        "Addresses": [
            {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
            {"AddressType": "POBOX", "City": "", "Region": "", "PostalCode": "", "Country": ""},
        ],
        "Phones": [
            {
                "PhoneType": "DEFAULT",
                "PhoneNumber": contact.phone,
                "PhoneAreaCode": "",
                "PhoneCountryCode": "",
            },
            {"PhoneType": "MOBILE", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
        ],
        "UpdatedDateUTC": ms_json(contact.updated_at),
        "ContactGroups": [],
        "IsSupplier": contact.is_supplier,
        "IsCustomer": not contact.is_supplier,
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
    }


# --- where / order ----------------------------------------------------------------------------

_CLAUSE = re.compile(r'^\s*([A-Za-z.]+)\s*==\s*(?:"([^"]*)"|(true|false))\s*$', re.IGNORECASE)


def where_filter(raw: str, fields: dict[str, Callable[[Any], str]]) -> Callable[[Any], bool]:
    """The subset of Xero's `where` the sandbox understands: `Field=="value"` joined by AND.

    Anything else is rejected rather than ignored: silently returning unfiltered data would
    hide a service bug instead of exposing it.
    """
    clauses: list[tuple[Callable[[Any], str], str]] = []
    for part in re.split(r"\s+AND\s+|\s*&&\s*", raw.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if not match or match.group(1) not in fields:
            raise XeroQueryError(
                f'Unsupported where clause {part!r}; the sandbox supports Field=="value" on '
                f"{sorted(fields)} joined by AND",
                "QueryParseException",
                16,
            )
        expected = match.group(2) if match.group(2) is not None else match.group(3).lower()
        clauses.append((fields[match.group(1)], expected))
    return lambda record: all(getter(record) == expected for getter, expected in clauses)


def order_key(raw: str, fields: dict[str, Callable[[Any], Any]]) -> tuple[Callable[[Any], Any], bool]:
    parts = raw.split()
    direction = parts[1].upper() if len(parts) == 2 else "ASC"
    if len(parts) not in (1, 2) or parts[0] not in fields or direction not in ("ASC", "DESC"):
        raise XeroQueryError(
            f"Unsupported order {raw!r}; use one of {sorted(fields)} [ASC|DESC]", "QueryParseException", 16
        )
    return fields[parts[0]], direction == "DESC"


def page_params(page_raw: str | None, size_raw: str | None) -> tuple[int | None, int]:
    def positive(name: str, raw: str) -> int:
        if not raw.isdigit() or int(raw) < 1:
            raise XeroQueryError(f"{name} must be a positive integer, got {raw!r}")
        return int(raw)

    page = positive("page", page_raw) if page_raw is not None else None
    size = positive("pageSize", size_raw) if size_raw is not None else DEFAULT_PAGE_SIZE
    if size > MAX_PAGE_SIZE:
        raise XeroQueryError(f"pageSize must be at most {MAX_PAGE_SIZE}")
    return page, size


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
# Shown on every response, as Xero does; the real limits are not enforced (use rate_limit faults).
LIMIT_HEADERS = {
    "X-DayLimit-Remaining": "4999",
    "X-MinLimit-Remaining": "59",
    "X-AppMinLimit-Remaining": "9999",
}


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


def validation_error(error: XeroQueryError) -> Response:
    body = {"ErrorNumber": error.number, "Type": error.error_type, "Message": str(error), "Elements": []}
    return json_response(body, 400)
