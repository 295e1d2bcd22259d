"""QuickBooks Online Invoice and Customer: JSON shapes, queryable properties, query evaluation."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import Tenant
from provider_sandbox.providers.quickbooks.query import Condition, Query, QueryValidationError

# QuickBooks reports times in the company's zone; sandbox companies are in US Pacific time.
PACIFIC = ZoneInfo("America/Los_Angeles")
_CURRENCY = {"value": "USD", "name": "United States Dollar"}


def qbo_time(moment: datetime, millis: bool = False) -> str:
    local = moment.astimezone(PACIFIC)
    return local.isoformat(timespec="milliseconds" if millis else "seconds")


def _metadata(created: datetime, updated: datetime) -> dict[str, str]:
    return {"CreateTime": qbo_time(created), "LastUpdatedTime": qbo_time(updated)}


def render_invoice(invoice: Invoice, tenant: Tenant) -> dict[str, Any]:
    contact = tenant.contact(invoice.contact_seq)
    lines: list[dict[str, Any]] = [
        {
            "Id": str(i + 1),
            "LineNum": i + 1,
            "Description": line.description,
            "Amount": line.amount,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {
                "ItemRef": {"value": str(i + 1), "name": line.description},
                "UnitPrice": line.unit_amount,
                "Qty": line.quantity,
                "TaxCodeRef": {"value": "TAX" if invoice.tax_rate else "NON"},
            },
        }
        for i, line in enumerate(invoice.lines)
    ]
    lines.append({"Amount": invoice.subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    return {
        "AllowIPNPayment": False,
        "AllowOnlinePayment": False,
        "AllowOnlineCreditCardPayment": False,
        "AllowOnlineACHPayment": False,
        "domain": "QBO",
        "sparse": False,
        "Id": str(invoice.seq),
        "SyncToken": str(invoice.version),
        "MetaData": _metadata(invoice.created_at, invoice.updated_at),
        "CustomField": [],
        "DocNumber": str(1000 + invoice.seq),
        "TxnDate": invoice.issued.isoformat(),
        "CurrencyRef": dict(_CURRENCY),
        "LinkedTxn": [],
        "Line": lines,
        "TxnTaxDetail": {"TotalTax": invoice.total_tax},
        "CustomerRef": {"value": str(contact.seq), "name": contact.company},
        "BillEmail": {"Address": contact.email},
        "DueDate": invoice.due.isoformat(),
        "TotalAmt": invoice.total,
        "ApplyTaxAfterDiscount": False,
        "PrintStatus": "NotSet",
        "EmailStatus": "EmailSent" if invoice.status != "DRAFT" else "NotSet",
        "Balance": invoice.amount_due,
        "PrivateNote": "Voided" if invoice.status == "VOIDED" else invoice.reference,
    }


def render_customer(contact: Contact, tenant: Tenant) -> dict[str, Any]:
    return {
        "Taxable": False,
        "Job": False,
        "BillWithParent": False,
        "Balance": 0.0,
        "BalanceWithJobs": 0.0,
        "CurrencyRef": dict(_CURRENCY),
        "PreferredDeliveryMethod": "Email",
        "domain": "QBO",
        "sparse": False,
        "Id": str(contact.seq),
        "SyncToken": str(contact.version),
        "MetaData": _metadata(contact.created_at, contact.updated_at),
        "GivenName": contact.first_name,
        "FamilyName": contact.last_name,
        "FullyQualifiedName": contact.company,
        "CompanyName": contact.company,
        "DisplayName": contact.company,
        "PrintOnCheckName": contact.company,
        "Active": not contact.archived,
        "PrimaryPhone": {"FreeFormNumber": contact.phone},
        "PrimaryEmailAddr": {"Address": contact.email},
    }


@dataclass(frozen=True)
class Entity:
    name: str
    records: Callable[[Tenant], list[Any]]
    render: Callable[[Any, Tenant], dict[str, Any]]
    properties: dict[str, tuple[str, Callable[[Any], Any]]]  # lower-case name -> (type, getter)


def _day(value: date) -> datetime:
    return datetime.combine(value, time(), tzinfo=UTC)


_META = {
    "metadata.lastupdatedtime": ("datetime", lambda r: r.updated_at),
    "metadata.createtime": ("datetime", lambda r: r.created_at),
}
ENTITIES = {
    "invoice": Entity(
        "Invoice",
        lambda t: t.invoices,
        render_invoice,
        {
            "id": ("number", lambda r: r.seq),
            "docnumber": ("string", lambda r: str(1000 + r.seq)),
            "txndate": ("date", lambda r: _day(r.issued)),
            "duedate": ("date", lambda r: _day(r.due)),
            "totalamt": ("number", lambda r: r.total),
            "balance": ("number", lambda r: r.amount_due),
            "customerref": ("number", lambda r: r.contact_seq),
            **_META,
        },
    ),
    "customer": Entity(
        "Customer",
        lambda t: t.contacts,
        render_customer,
        {
            "id": ("number", lambda r: r.seq),
            "displayname": ("string", lambda r: r.company),
            "companyname": ("string", lambda r: r.company),
            "givenname": ("string", lambda r: r.first_name),
            "familyname": ("string", lambda r: r.last_name),
            "active": ("boolean", lambda r: str(not r.archived).lower()),
            **_META,
        },
    ),
}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _property(entity: Entity, name: str) -> tuple[str, Callable[[Any], Any]]:
    key = name.lower()
    if key not in entity.properties:
        raise QueryValidationError(f"QueryValidationError: property '{name}' is not queryable")
    return entity.properties[key]


def _coerce(kind: str, raw: str | float, name: str) -> Any:
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise QueryValidationError(f"QueryValidationError: value '{raw}' is not valid for {name}") from None
    if kind in ("datetime", "date"):
        try:
            parsed = datetime.fromisoformat(str(raw))
        except ValueError:
            raise QueryValidationError(f"QueryValidationError: value '{raw}' is not a valid date for {name}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=PACIFIC if kind == "datetime" else UTC)
    return str(raw)


def _matcher(entity: Entity, condition: Condition) -> Callable[[Any], bool]:
    kind, getter = _property(entity, condition.field)
    values = [_coerce(kind, raw, condition.field) for raw in condition.values]
    if condition.op == "IN":
        return lambda record: getter(record) in values
    if condition.op == "LIKE":
        if kind != "string":
            raise QueryValidationError(f"QueryValidationError: LIKE is not supported on {condition.field}")
        pattern = re.compile("^" + ".*".join(map(re.escape, str(values[0]).split("%"))) + "$", re.IGNORECASE)
        return lambda record: pattern.match(getter(record)) is not None
    compare, value = _OPS[condition.op], values[0]
    return lambda record: bool(compare(getter(record), value))


def run_query(query: Query, tenant: Tenant) -> tuple[str, list[dict[str, Any]] | int]:
    """Returns the entity's response key and either the rendered page or the total count."""
    entity = ENTITIES.get(query.entity.lower())
    if entity is None:
        raise QueryValidationError(f"QueryValidationError: Entity '{query.entity}' is not supported by the sandbox")
    records = list(entity.records(tenant))
    for condition in query.where:
        keep = _matcher(entity, condition)
        records = [r for r in records if keep(r)]
    if query.count:
        return entity.name, len(records)
    for name, descending in reversed(query.order):  # stable sorts, last key first
        records.sort(key=_property(entity, name)[1], reverse=descending)
    start = query.start_position - 1
    page = [entity.render(r, tenant) for r in records[start : start + query.max_results]]
    if query.fields:
        keep_keys = {f.split(".")[0].lower() for f in query.fields} | {"id", "synctoken", "domain"}
        page = [{k: v for k, v in item.items() if k.lower() in keep_keys} | {"sparse": True} for item in page]
    return entity.name, page
