"""Xero's records as its Accounting API shows them: Invoice, Contact and Organisation.

Each follows its schema in Xero's OpenAPI document (xero_accounting.yaml); the tests validate the sandbox's
answers against it. `summary` is the `summaryOnly=true` form: Xero leaves out the heavy, computed parts
(an invoice's line items and its payments, credit notes, prepayments and overpayments; a contact's
addresses, phones, groups and persons) and keeps every plain field.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from typing import Any

from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import Tenant
from provider_sandbox.providers.xero.wire import ms_json, ms_json_date, xero_date_string

# Organisation fields that depend on the country; others fall back to Xero's GLOBAL edition.
_VERSIONS = {"AU": "AU", "NZ": "NZ", "UK": "UK", "US": "US"}
_TIMEZONES = {"AU": "AUSEASTERNSTANDARDTIME", "NZ": "NEWZEALANDSTANDARDTIME"}
_YEAR_ENDS = {"AU": (30, 6), "NZ": (31, 3)}  # (day, month) of the usual financial year end


def _line_id(invoice: Invoice, index: int) -> str:
    return _derived_id(invoice.key, f"line-{index}")


@functools.lru_cache(maxsize=100_000)
def _derived_id(key: str, name: str) -> str:
    """A stable id derived from a record's; remembered, as every page of a sync renders every line again
    (uuid5 was a quarter of the time a page of invoices took)."""
    return str(uuid.uuid5(uuid.UUID(key), name))


def contact_ref(contact: Contact) -> dict[str, Any]:
    return {"ContactID": contact.key, "Name": contact.company, "HasValidationErrors": False}


def render_invoice(
    invoice: Invoice, tenant: Tenant, *, with_lines: bool, summary: bool = False, unit_decimals: int = 2
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Type": "ACCREC",
        "InvoiceID": invoice.key,
        "InvoiceNumber": invoice.number,
        "Reference": invoice.reference,
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
    if not summary:
        body.update({"Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": []})
    if with_lines and not summary:  # Xero returns line items only on paged (or single-invoice) requests
        body["LineItems"] = _line_items(invoice, unit_decimals)
    return body


def _line_items(invoice: Invoice, unit_decimals: int) -> list[dict[str, Any]]:
    return [
        {
            "LineItemID": _line_id(invoice, index),
            "Description": line.description,
            "Quantity": line.quantity,
            "UnitAmount": round(line.unit_amount, unit_decimals),
            "TaxType": "OUTPUT" if invoice.tax_rate else "NONE",
            "TaxAmount": round(line.amount * invoice.tax_rate, 2),
            "LineAmount": line.amount,
            "AccountCode": "200",
            "Tracking": [],
        }
        for index, line in enumerate(invoice.lines)
    ]


def render_contact(contact: Contact, *, summary: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ContactID": contact.key,
        "ContactStatus": "ARCHIVED" if contact.archived else "ACTIVE",
        "Name": contact.company,
        "FirstName": contact.first_name,
        "LastName": contact.last_name,
        "EmailAddress": contact.email,
        "BankAccountDetails": "",
        "UpdatedDateUTC": ms_json(contact.updated_at),
        "IsSupplier": contact.is_supplier,
        "IsCustomer": not contact.is_supplier,
        "HasAttachments": False,
        "HasValidationErrors": False,
    }
    if not summary:
        body.update(_contact_details(contact))
    return body


def _contact_details(contact: Contact) -> dict[str, Any]:
    """What `summaryOnly=true` leaves out of a contact."""
    return {
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
        "ContactGroups": [],
        "ContactPersons": [],
    }


def render_organisation(tenant: Tenant) -> dict[str, Any]:
    year_end_day, year_end_month = _YEAR_ENDS.get(tenant.country, (31, 12))
    return {
        "OrganisationID": tenant.tenant_id,
        "Name": tenant.name,
        "LegalName": tenant.name,
        "PaysTax": True,
        "Version": _VERSIONS.get(tenant.country, "GLOBAL"),
        "OrganisationType": "COMPANY",
        "BaseCurrency": tenant.currency,
        "CountryCode": tenant.country,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": year_end_day,
        "FinancialYearEndMonth": year_end_month,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": ms_json(tenant.created_at),
        "OrganisationEntityType": "COMPANY",
        "Timezone": _TIMEZONES.get(tenant.country, "UTC"),
        "ShortCode": _short_code(tenant.tenant_id),
        "Edition": "BUSINESS",
        "Class": "PREMIUM",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }


def _short_code(tenant_id: str) -> str:
    """Xero's short code (`!` and five characters, used in deep links), stable for the organisation."""
    return "!" + hashlib.sha256(tenant_id.encode()).hexdigest()[:5]
