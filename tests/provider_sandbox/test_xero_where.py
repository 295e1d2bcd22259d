"""Xero's `where` and `order` forms: each answer is checked against the same filter worked out here from
the unfiltered listing, and the forms the sandbox does not understand (or Xero refuses) are a 400."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from tests.provider_sandbox.helpers import connect, new_tenant, xero_get

Record = dict[str, Any]


@pytest.fixture  # per test: another module's `POST /_sandbox/reset` may run in between
def xero_books(http: httpx.Client) -> tuple[str, str]:
    tenant = new_tenant(http, "xero", invoices=200, contacts=40)
    return connect(http, "xero", tenant=tenant).access, tenant


def listed(http: httpx.Client, books: tuple[str, str], resource: str, **params: str) -> list[Record]:
    token, tenant = books
    response = xero_get(http, token, tenant, resource, params)
    assert response.status_code == 200, f"{params}: {response.text[:300]}"
    return list(response.json()[resource])


def day(record: Record, key: str = "DateString") -> date:
    return date.fromisoformat(record[key][:10])


INVOICE_FORMS: list[tuple[str, Callable[[Record], bool]]] = [
    ("Date >= DateTime(2024, 01, 31)", lambda i: day(i) >= date(2024, 1, 31)),
    (
        "Date < DateTime(2024,1,31) AND DueDate >= DateTime(2023, 12, 1)",
        lambda i: day(i) < date(2024, 1, 31) and day(i, "DueDateString") >= date(2023, 12, 1),
    ),
    ('Reference.Contains("2")', lambda i: "2" in i["Reference"]),
    ('Reference.StartsWith("po-1")', lambda i: i["Reference"].lower().startswith("po-1")),
    ('Contact.Name.StartsWith("s")', lambda i: i["Contact"]["Name"].lower().startswith("s")),
    ('InvoiceNumber.EndsWith("7")', lambda i: i["InvoiceNumber"].endswith("7")),
    ("Total > 1000", lambda i: i["Total"] > 1000),
    ("AmountDue <= 0 && Total >= 500.5", lambda i: i["AmountDue"] <= 0 and i["Total"] >= 500.5),
    ('Status == "PAID" OR Status == "VOIDED"', lambda i: i["Status"] in ("PAID", "VOIDED")),
    (
        '(Status=="PAID" || Status=="DRAFT") && Total < 800',
        lambda i: i["Status"] in ("PAID", "DRAFT") and i["Total"] < 800,
    ),
    ('NOT (Status=="PAID") AND Type=="ACCREC"', lambda i: i["Status"] != "PAID"),
    ('Status=="paid"', lambda i: i["Status"] == "PAID"),  # text compares ignoring case, as Xero's collation
    ("FullyPaidOnDate == null", lambda i: "FullyPaidOnDate" not in i),
    ("FullyPaidOnDate != null", lambda i: "FullyPaidOnDate" in i),
    ('Contact.Name.Contains("#1")', lambda i: "#1" in i["Contact"]["Name"]),
]


@pytest.mark.parametrize(("where", "expected"), INVOICE_FORMS)
def test_invoice_where_forms(
    http: httpx.Client, xero_books: tuple[str, str], where: str, expected: Callable[[Record], bool]
) -> None:
    everything = listed(http, xero_books, "Invoices")
    wanted = [i["InvoiceID"] for i in everything if expected(i)]
    assert 0 < len(wanted) < len(everything), f"{where} proves nothing on this data"
    assert [i["InvoiceID"] for i in listed(http, xero_books, "Invoices", where=where)] == wanted


def test_date_time_with_a_time_of_day(http: httpx.Client, xero_books: tuple[str, str]) -> None:
    everything = listed(http, xero_books, "Invoices")
    issued = day(everything[5])
    where = f"Date == DateTime({issued.year}, {issued.month:02d}, {issued.day:02d}, 00, 00, 00)"
    same_day = [i["InvoiceID"] for i in everything if day(i) == issued]
    assert [i["InvoiceID"] for i in listed(http, xero_books, "Invoices", where=where)] == same_day


def test_guid_comparisons(http: httpx.Client, xero_books: tuple[str, str]) -> None:
    everything = listed(http, xero_books, "Invoices")
    contact, invoice = everything[0]["Contact"]["ContactID"], everything[1]["InvoiceID"]
    theirs = listed(http, xero_books, "Invoices", where=f'Contact.ContactID==guid("{contact}")')
    assert [i["InvoiceID"] for i in theirs] == [
        i["InvoiceID"] for i in everything if i["Contact"]["ContactID"] == contact
    ]
    assert [
        i["InvoiceID"] for i in listed(http, xero_books, "Invoices", where=f'InvoiceID == Guid("{invoice.upper()}")')
    ] == [invoice]
    others = listed(http, xero_books, "Invoices", where=f'Contact.ContactID!=guid("{contact}")')
    assert len(theirs) + len(others) == len(everything)
    contacts = listed(http, xero_books, "Contacts")
    one = contacts[3]["ContactID"]
    assert [c["ContactID"] for c in listed(http, xero_books, "Contacts", where=f'ContactID==guid("{one}")')] == [one]


def test_contact_where_forms(http: httpx.Client, xero_books: tuple[str, str]) -> None:
    everything = listed(http, xero_books, "Contacts")
    first_name = next(c for c in everything if c["IsCustomer"])["FirstName"]
    named = listed(http, xero_books, "Contacts", where=f'FirstName=="{first_name.upper()}" AND IsCustomer')
    assert [c["ContactID"] for c in named] == [
        c["ContactID"] for c in everything if c["FirstName"] == first_name and c["IsCustomer"]
    ]
    bakers = listed(http, xero_books, "Contacts", where='Name.Contains("#2") || EmailAddress.StartsWith("o")')
    assert [c["ContactID"] for c in bakers] == [
        c["ContactID"] for c in everything if "#2" in c["Name"] or c["EmailAddress"].startswith("o")
    ]


@pytest.mark.parametrize(
    ("order", "key"),
    [
        ("Total", lambda i: i["Total"]),
        ("Total DESC", lambda i: -i["Total"]),
        ("Total ASC", lambda i: i["Total"]),
        ("Status ASC, Total DESC", lambda i: (i["Status"], -i["Total"])),
        ("DueDate DESC,InvoiceNumber", lambda i: (-day(i, "DueDateString").toordinal(), i["InvoiceNumber"])),
        ("Contact.Name", lambda i: i["Contact"]["Name"].casefold()),
    ],
)
def test_invoice_order_forms(
    http: httpx.Client, xero_books: tuple[str, str], order: str, key: Callable[[Record], Any]
) -> None:
    everything = listed(http, xero_books, "Invoices")
    expected = [i["InvoiceID"] for i in sorted(everything, key=key)]  # stable, as Xero's database sort is here
    assert [i["InvoiceID"] for i in listed(http, xero_books, "Invoices", order=order)] == expected
    paged = listed(http, xero_books, "Invoices", order=order, page="2", pageSize="50")
    assert [i["InvoiceID"] for i in paged] == expected[50:100]  # ordered before paging


@pytest.mark.parametrize(
    ("where", "complaint"),
    [
        (
            'Contact.ContactID=="5189c7e2-2d59-426f-bda2-e7087893e613"',
            "incompatible with operand types 'Guid' and 'String'",
        ),
        ('Reference.ToLower()=="po-1"', "No applicable method 'ToLower'"),
        ('Total.Contains("5")', "No applicable method 'Contains' exists in type 'Decimal'"),
        ('Total > "5"', "incompatible with operand types 'Decimal' and 'String'"),
        ('Status > "A"', "incompatible with operand types 'String' and 'String'"),
        ("Date >= DateTime(2024, 13, 1)", "is not a date"),
        ("Date >= DateTime(2024, 1)", "DateTime takes"),
        ('InvoiceID==guid("nope")', "is not a GUID"),
        ('status=="PAID"', "No property or field 'status' exists in type 'Invoice'"),
        ("LineItems.Any()", "No property or field 'LineItems'"),
        ('Status=="PAID" AND', "ends too early"),
        ('(Status=="PAID"', "Expected ')'"),
        ('Status="PAID"', "Syntax error"),
        ('Status=="PAID" Total > 1', "Unexpected 'Total'"),
        ("Total > 1 > 2", "Unexpected '>'"),
    ],
)
def test_unsupported_or_invalid_where_is_a_query_parse_error(
    http: httpx.Client, xero_books: tuple[str, str], where: str, complaint: str
) -> None:
    token, tenant = xero_books
    response = xero_get(http, token, tenant, "Invoices", {"where": where})
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["Type"], body["ErrorNumber"]) == ("QueryParseException", 16)
    assert complaint in body["Message"]


@pytest.mark.parametrize("order", ["Total SIDEWAYS", "Nope", "Total DESC extra", "Total,"])
def test_unsupported_order_is_a_query_parse_error(http: httpx.Client, xero_books: tuple[str, str], order: str) -> None:
    token, tenant = xero_books
    response = xero_get(http, token, tenant, "Invoices", {"order": order})
    assert response.status_code == 400, response.text
    assert response.json()["Type"] == "QueryParseException"
