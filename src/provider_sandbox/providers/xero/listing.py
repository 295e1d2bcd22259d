"""GET Invoices and GET Contacts: every query parameter Xero's spec lists for them, applied in one place,
and the look-up of one invoice or contact.

    Invoices  If-Modified-Since (header), where, order, IDs, InvoiceNumbers, ContactIDs, Statuses, page,
              pageSize, includeArchived, createdByMyApp, unitdp, summaryOnly, searchTerm
    Contacts  If-Modified-Since (header), where, order, IDs, page, pageSize, includeArchived, summaryOnly,
              searchTerm

A malformed value of any of them is a 400. Parameters the spec does not list are ignored, as Xero ignores
them (a misspelt filter returns the whole set there too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import Tenant
from provider_sandbox.providers.xero.where import Field, Predicate, sort_records, where_filter
from provider_sandbox.providers.xero.wire import (
    bool_param,
    list_param,
    midnight_utc,
    page_params,
    parse_if_modified_since,
    unit_decimals,
    uuid_list_param,
)

R = TypeVar("R", Invoice, Contact)

CONTACT_FIELDS = {
    "ContactID": Field("guid", lambda c: c.key),
    "ContactStatus": Field("text", lambda c: "ARCHIVED" if c.archived else "ACTIVE"),
    "Name": Field("text", lambda c: c.company),
    "FirstName": Field("text", lambda c: c.first_name),
    "LastName": Field("text", lambda c: c.last_name),
    "EmailAddress": Field("text", lambda c: c.email),
    "IsSupplier": Field("bool", lambda c: c.is_supplier),
    "IsCustomer": Field("bool", lambda c: not c.is_supplier),
    "HasAttachments": Field("bool", lambda c: False),
    "UpdatedDateUTC": Field("date", lambda c: c.updated_at),
}
# searchTerm's fields, as the spec names them (the sandbox's records have no ContactNumber).
_INVOICE_SEARCHED: tuple[Callable[[Invoice], str], ...] = (lambda i: i.number, lambda i: i.reference)
_CONTACT_SEARCHED: tuple[Callable[[Contact], str], ...] = (
    lambda c: c.company,
    lambda c: c.first_name,
    lambda c: c.last_name,
    lambda c: c.email,
)


def invoice_fields(tenant: Tenant) -> dict[str, Field]:
    """The invoice fields `where` and `order` may name (an invoice's contact lives in its tenant)."""
    return {
        "InvoiceID": Field("guid", lambda i: i.key),
        "InvoiceNumber": Field("text", lambda i: i.number),
        "Reference": Field("text", lambda i: i.reference),
        "Type": Field("text", lambda i: "ACCREC"),
        "Status": Field("text", lambda i: i.status),
        "CurrencyCode": Field("text", lambda i: i.currency),
        "Contact.ContactID": Field("guid", lambda i: tenant.contact(i.contact_seq).key),
        "Contact.Name": Field("text", lambda i: tenant.contact(i.contact_seq).company),
        "Date": Field("date", lambda i: midnight_utc(i.issued)),
        "DueDate": Field("date", lambda i: midnight_utc(i.due)),
        "FullyPaidOnDate": Field("date", lambda i: midnight_utc(i.paid_on) if i.paid_on else None),
        "UpdatedDateUTC": Field("date", lambda i: i.updated_at),
        "SubTotal": Field("number", lambda i: i.subtotal),
        "TotalTax": Field("number", lambda i: i.total_tax),
        "Total": Field("number", lambda i: i.total),
        "AmountDue": Field("number", lambda i: i.amount_due),
        "AmountPaid": Field("number", lambda i: i.amount_paid),
        "AmountCredited": Field("number", lambda i: 0.0),
        "HasAttachments": Field("bool", lambda i: False),
    }


@dataclass(frozen=True)
class Listing:
    """One answer to a listing: its records (this page's, when paged) and how to render them."""

    records: list[Any]
    page: int | None
    page_size: int
    total: int  # records matching, over every page
    summary_only: bool
    unit_decimals: int = 2

    @property
    def with_lines(self) -> bool:
        """Xero shows invoice line items on paged requests, never in the summarised form."""
        return self.page is not None and not self.summary_only

    @property
    def pagination(self) -> dict[str, int] | None:
        if self.page is None:
            return None
        pages = -(-self.total // self.page_size)
        return {"page": self.page, "pageSize": self.page_size, "pageCount": pages, "itemCount": self.total}


def list_invoices(params: Mapping[str, str], modified_since: str | None, tenant: Tenant) -> Listing:
    fields = invoice_fields(tenant)
    tests = _common_tests(params, modified_since, fields, "Invoice", _INVOICE_SEARCHED)
    tests += _invoice_tests(params, tenant)
    return _listing(tenant.invoices, tests, params, fields, "Invoice", unit_decimals(params.get("unitdp")))


def list_contacts(params: Mapping[str, str], modified_since: str | None, tenant: Tenant) -> Listing:
    tests = _common_tests(params, modified_since, CONTACT_FIELDS, "Contact", _CONTACT_SEARCHED)
    # Archived contacts are left out unless asked for (the spec: includeArchived=true includes them).
    if not bool_param(params.get("includeArchived"), "includeArchived"):
        tests.append(lambda contact: not contact.archived)
    return _listing(tenant.contacts, tests, params, CONTACT_FIELDS, "Contact")


def find_invoice(tenant: Tenant, identifier: str) -> Invoice | None:
    """GET Invoices/{id}: Xero takes the InvoiceID or, in its place, the InvoiceNumber."""
    wanted = identifier.strip().casefold()
    return next((i for i in tenant.invoices if wanted in (i.key, i.number.casefold())), None)


def find_contact(tenant: Tenant, identifier: str) -> Contact | None:
    """GET Contacts/{id}: a ContactID (a ContactNumber finds nothing: the sandbox's contacts have none)."""
    wanted = identifier.strip().lower()
    return next((c for c in tenant.contacts if c.key == wanted), None)


def _listing(
    records: list[R],
    tests: list[Predicate],
    params: Mapping[str, str],
    fields: dict[str, Field],
    type_name: str,
    decimals: int = 2,
) -> Listing:
    page, size = page_params(params.get("page"), params.get("pageSize"))
    summary_only = bool(bool_param(params.get("summaryOnly"), "summaryOnly"))
    # A full sync asks for page after page with no filter: no pass over every record for each page then.
    selected = [record for record in records if all(test(record) for test in tests)] if tests else records
    if params.get("order"):
        selected = sort_records(selected, params["order"], fields, type_name)
    shown = selected if page is None else selected[(page - 1) * size : page * size]
    return Listing(shown, page, size, len(selected), summary_only, decimals)


def _common_tests(
    params: Mapping[str, str],
    modified_since: str | None,
    fields: dict[str, Field],
    type_name: str,
    searched: tuple[Callable[[Any], str], ...],
) -> list[Predicate]:
    """The filters GET Invoices and GET Contacts share: If-Modified-Since, IDs, where, searchTerm."""
    tests: list[Predicate] = []
    if modified_since:
        since = parse_if_modified_since(modified_since)
        tests.append(lambda record: record.updated_at >= since)
    ids = uuid_list_param(params.get("IDs"), "IDs")
    if ids is not None:
        tests.append(lambda record: record.key in ids)
    if params.get("where"):
        tests.append(where_filter(params["where"], fields, type_name))
    term = params.get("searchTerm")
    if term is not None:  # case-insensitive, anywhere in any of the searched fields
        folded = term.strip().casefold()
        tests.append(lambda record: any(folded in read(record).casefold() for read in searched))
    return tests


def _invoice_tests(params: Mapping[str, str], tenant: Tenant) -> list[Predicate]:
    tests: list[Predicate] = []
    statuses = list_param(params.get("Statuses"))
    if statuses is not None:
        wanted_statuses = {status.upper() for status in statuses}
        tests.append(lambda invoice: invoice.status in wanted_statuses)
    numbers = list_param(params.get("InvoiceNumbers"))
    if numbers is not None:
        wanted_numbers = {number.casefold() for number in numbers}
        tests.append(lambda invoice: invoice.number.casefold() in wanted_numbers)
    contact_ids = uuid_list_param(params.get("ContactIDs"), "ContactIDs")
    if contact_ids is not None:
        tests.append(lambda invoice: tenant.contact(invoice.contact_seq).key in contact_ids)
    if bool_param(params.get("createdByMyApp"), "createdByMyApp"):
        # The sandbox has no API to create invoices: every one was made "in Xero", none by the caller's app.
        tests.append(lambda invoice: False)
    # includeArchived includes "records with a status of ARCHIVED", a status no invoice can have (the spec's
    # Invoice.Status enum has none): checked, and it changes nothing, as at Xero.
    bool_param(params.get("includeArchived"), "includeArchived")
    return tests
