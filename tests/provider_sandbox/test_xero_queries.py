"""Every query parameter Xero's spec lists for GET Invoices and GET Contacts does what Xero documents, or a
malformed value of it is refused with Xero's 400 -- none is accepted and ignored.

The parameter lists come from the spec itself: a parameter the spec gains fails
`test_every_parameter_the_spec_lists_has_a_case` until it has a case here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.provider_sandbox.helpers import connect, new_tenant, xero_get
from tests.provider_sandbox.specs import load_yaml_spec, operation_parameters
from tests.provider_sandbox.test_xero import ms_to_datetime

INVOICES, CONTACTS = 150, 30


@dataclass(frozen=True)
class Books:
    """A Xero organisation of this module's own, reached with a token for it."""

    http: httpx.Client
    token: str
    tenant: str

    def get(
        self, resource: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return xero_get(self.http, self.token, self.tenant, resource, params, headers)

    def listed(
        self, resource: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        response = self.get(resource, params, headers)
        assert response.status_code == 200, response.text
        return list(response.json()[resource])

    def refused(self, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self.get(resource, params)
        assert response.status_code == 400, f"{params} should be refused: {response.status_code} {response.text[:300]}"
        body = dict(response.json())
        assert set(body) == {"ErrorNumber", "Type", "Message", "Elements"}
        return body


@pytest.fixture
def books(http: httpx.Client) -> Books:
    """Per test: a module-wide one would not survive another module's `POST /_sandbox/reset` in between."""
    tenant = new_tenant(http, "xero", invoices=INVOICES, contacts=CONTACTS)
    return Books(http, connect(http, "xero", tenant=tenant).access, tenant)


def ids(records: list[dict[str, Any]], key: str) -> list[str]:
    return [record[key] for record in records]


def newest_change(records: list[dict[str, Any]]) -> datetime:
    return max(ms_to_datetime(record["UpdatedDateUTC"]) for record in records)


# --- the shared parameters, for either resource ----------------------------------------------------


def modified_since_filters(books: Books, resource: str) -> None:
    everything = books.listed(resource)
    newest = newest_change(everything)
    assert books.listed(resource, None, {"If-Modified-Since": (newest + timedelta(milliseconds=1)).isoformat()}) == []
    recent = books.listed(resource, None, {"If-Modified-Since": (newest - timedelta(days=30)).isoformat()})
    assert 0 < len(recent) < len(everything)
    assert all(ms_to_datetime(record["UpdatedDateUTC"]) >= newest - timedelta(days=30) for record in recent)


def ids_filter(books: Books, resource: str, key: str) -> None:
    wanted = ids(books.listed(resource), key)[3:5]
    assert ids(books.listed(resource, {"IDs": ",".join(wanted)}), key) == wanted
    assert books.refused(resource, {"IDs": "not-a-guid"})["Type"] == "ValidationException"


def page_pages(books: Books, resource: str, key: str, total: int) -> None:
    second = books.get(resource, {"page": 2, "pageSize": 10}).json()
    assert second["pagination"] == {"page": 2, "pageSize": 10, "pageCount": -(-total // 10), "itemCount": total}
    assert ids(second[resource], key) == ids(books.listed(resource), key)[10:20]
    books.refused(resource, {"page": "0"})


def page_size_sizes(books: Books, resource: str, total: int) -> None:
    body = books.get(resource, {"page": 1, "pageSize": 7}).json()
    assert len(body[resource]) == 7
    assert body["pagination"]["pageCount"] == -(-total // 7)
    books.refused(resource, {"page": 1, "pageSize": 1001})


def summary_only_lightens(books: Books, resource: str, key: str, heavy: set[str]) -> None:
    full = books.listed(resource, {"page": 1})
    light = books.listed(resource, {"page": 1, "summaryOnly": "true"})
    assert ids(light, key) == ids(full, key)
    assert all(heavy <= set(record) for record in full)
    assert all(not heavy & set(record) for record in light)
    assert ids(books.listed(resource, {"page": 1, "summaryOnly": "false"}), key) == ids(full, key)
    books.refused(resource, {"summaryOnly": "sometimes"})


# --- GET Invoices ----------------------------------------------------------------------------------


def invoices_where(books: Books) -> None:
    paid = books.listed("Invoices", {"where": 'Status=="PAID"'})
    assert paid
    assert {invoice["Status"] for invoice in paid} == {"PAID"}
    assert len(paid) < INVOICES
    assert books.refused("Invoices", {"where": "Status=="})["Type"] == "QueryParseException"


def invoices_order(books: Books) -> None:
    ordered = ids(books.listed("Invoices", {"order": "InvoiceNumber DESC"}), "InvoiceNumber")
    assert ordered == sorted(ordered, reverse=True) != ids(books.listed("Invoices"), "InvoiceNumber")
    books.refused("Invoices", {"order": "InvoiceNumber SIDEWAYS"})


def invoice_numbers(books: Books) -> None:
    assert ids(books.listed("Invoices", {"InvoiceNumbers": "INV-000004,inv-000009"}), "InvoiceNumber") == [
        "INV-000004",
        "INV-000009",
    ]


def contact_ids(books: Books) -> None:
    everything = books.listed("Invoices")
    contact = everything[0]["Contact"]["ContactID"]
    theirs = books.listed("Invoices", {"ContactIDs": contact})
    assert ids(theirs, "InvoiceID") == [i["InvoiceID"] for i in everything if i["Contact"]["ContactID"] == contact]
    assert 0 < len(theirs) < len(everything)
    books.refused("Invoices", {"ContactIDs": "INV-000001"})


def statuses(books: Books) -> None:
    chosen = books.listed("Invoices", {"Statuses": "PAID,VOIDED"})
    expected = [i["InvoiceID"] for i in books.listed("Invoices") if i["Status"] in ("PAID", "VOIDED")]
    assert ids(chosen, "InvoiceID") == expected
    assert 0 < len(expected) < INVOICES


def invoices_include_archived(books: Books) -> None:
    # No invoice can be ARCHIVED (the spec's Invoice.Status has no such value): `true` adds nothing, as at
    # Xero; what proves the parameter is read is that a value other than a boolean is refused.
    everything = ids(books.listed("Invoices"), "InvoiceID")
    assert ids(books.listed("Invoices", {"includeArchived": "true"}), "InvoiceID") == everything
    books.refused("Invoices", {"includeArchived": "yes"})


def created_by_my_app(books: Books) -> None:
    assert books.listed("Invoices", {"createdByMyApp": "true"}) == []  # every invoice was made "in Xero"
    assert len(books.listed("Invoices", {"createdByMyApp": "false"})) == INVOICES
    books.refused("Invoices", {"createdByMyApp": "1"})


def unitdp(books: Books) -> None:
    # The seeded unit amounts have at most 2 decimals: 4 places show the same numbers. Only 2 and 4 exist.
    two = books.listed("Invoices", {"page": 1})
    four = books.listed("Invoices", {"page": 1, "unitdp": "4"})
    assert [line["UnitAmount"] for i in four for line in i["LineItems"]] == [
        line["UnitAmount"] for i in two for line in i["LineItems"]
    ]
    assert books.refused("Invoices", {"page": 1, "unitdp": "3"})["Message"].startswith("unitdp must be one of")


def invoices_search_term(books: Books) -> None:
    everything = books.listed("Invoices")
    term = everything[0]["Reference"][:5].lower()  # "po-12": a part of a reference, in another case
    found = books.listed("Invoices", {"searchTerm": term})
    assert everything[0]["InvoiceID"] in ids(found, "InvoiceID")
    assert all(term in (i["Reference"] + " " + i["InvoiceNumber"]).lower() for i in found)
    assert len(found) < len(everything)
    assert ids(books.listed("Invoices", {"searchTerm": "inv-00001"}), "InvoiceNumber") == [
        f"INV-{n:06d}" for n in range(10, 20)
    ]


INVOICE_CASES: dict[str, Callable[[Books], None]] = {
    "If-Modified-Since": lambda books: modified_since_filters(books, "Invoices"),
    "where": invoices_where,
    "order": invoices_order,
    "IDs": lambda books: ids_filter(books, "Invoices", "InvoiceID"),
    "InvoiceNumbers": invoice_numbers,
    "ContactIDs": contact_ids,
    "Statuses": statuses,
    "page": lambda books: page_pages(books, "Invoices", "InvoiceID", INVOICES),
    "pageSize": lambda books: page_size_sizes(books, "Invoices", INVOICES),
    "includeArchived": invoices_include_archived,
    "createdByMyApp": created_by_my_app,
    "unitdp": unitdp,
    "summaryOnly": lambda books: summary_only_lightens(
        books, "Invoices", "InvoiceID", {"LineItems", "Payments", "CreditNotes", "Prepayments", "Overpayments"}
    ),
    "searchTerm": invoices_search_term,
}

# --- GET Contacts ----------------------------------------------------------------------------------


def contacts_where(books: Books) -> None:
    suppliers = books.listed("Contacts", {"where": "IsSupplier==true"})
    assert ids(suppliers, "ContactID") == [c["ContactID"] for c in books.listed("Contacts") if c["IsSupplier"]]
    assert 0 < len(suppliers) < CONTACTS
    books.refused("Contacts", {"where": 'IsSupplier=="yes"'})


def contacts_order(books: Books) -> None:
    names = ids(books.listed("Contacts", {"order": "Name DESC"}), "Name")
    assert names == sorted(names, key=str.casefold, reverse=True) != ids(books.listed("Contacts"), "Name")
    books.refused("Contacts", {"order": "Nickname"})


def contacts_include_archived(books: Books) -> None:
    everything = books.listed("Contacts")
    archived = everything[2]["ContactID"]
    change = books.http.patch(f"/_sandbox/xero/tenants/{books.tenant}/contacts/{archived}", json={"archived": True})
    assert change.status_code == 200, change.text
    try:
        assert archived not in ids(books.listed("Contacts"), "ContactID")  # left out unless asked for
        included = books.listed("Contacts", {"includeArchived": "true"})
        assert ids(included, "ContactID") == ids(everything, "ContactID")
        assert next(c for c in included if c["ContactID"] == archived)["ContactStatus"] == "ARCHIVED"
        books.refused("Contacts", {"includeArchived": "maybe"})
    finally:
        books.http.patch(f"/_sandbox/xero/tenants/{books.tenant}/contacts/{archived}", json={"archived": False})


def contacts_search_term(books: Books) -> None:
    everything = books.listed("Contacts")
    term = everything[4]["EmailAddress"].split("@")[0].upper()  # "first.last5", in another case
    found = books.listed("Contacts", {"searchTerm": term})
    assert everything[4]["ContactID"] in ids(found, "ContactID")
    searched = ("Name", "FirstName", "LastName", "EmailAddress")
    assert all(any(term.lower() in c[field].lower() for field in searched) for c in found)
    assert len(found) < len(everything)


CONTACT_CASES: dict[str, Callable[[Books], None]] = {
    "If-Modified-Since": lambda books: modified_since_filters(books, "Contacts"),
    "where": contacts_where,
    "order": contacts_order,
    "IDs": lambda books: ids_filter(books, "Contacts", "ContactID"),
    "page": lambda books: page_pages(books, "Contacts", "ContactID", CONTACTS),
    "pageSize": lambda books: page_size_sizes(books, "Contacts", CONTACTS),
    "includeArchived": contacts_include_archived,
    "summaryOnly": lambda books: summary_only_lightens(
        books, "Contacts", "ContactID", {"Addresses", "Phones", "ContactGroups", "ContactPersons"}
    ),
    "searchTerm": contacts_search_term,
}


@pytest.mark.parametrize(("path", "cases"), [("/Invoices", INVOICE_CASES), ("/Contacts", CONTACT_CASES)])
def test_every_parameter_the_spec_lists_has_a_case(path: str, cases: dict[str, Callable[[Books], None]]) -> None:
    spec = load_yaml_spec("xero", "xero_accounting.yaml")
    assert operation_parameters(spec, path) == set(cases)


@pytest.mark.parametrize("name", sorted(INVOICE_CASES))
def test_each_invoices_parameter_is_applied_or_refused(books: Books, name: str) -> None:
    INVOICE_CASES[name](books)


@pytest.mark.parametrize("name", sorted(CONTACT_CASES))
def test_each_contacts_parameter_is_applied_or_refused(books: Books, name: str) -> None:
    CONTACT_CASES[name](books)


def test_archiving_a_contact_is_a_change_an_incremental_read_sees(books: Books) -> None:
    contact = books.listed("Contacts")[0]["ContactID"]
    since = {"If-Modified-Since": (newest_change(books.listed("Contacts")) + timedelta(milliseconds=1)).isoformat()}
    path = f"/_sandbox/xero/tenants/{books.tenant}/contacts/{contact}"
    assert books.http.patch(path, json={"archived": True}).status_code == 200
    try:
        changed = books.listed("Contacts", {"includeArchived": "true"}, since)
        assert [(c["ContactID"], c["ContactStatus"]) for c in changed] == [(contact, "ARCHIVED")]
    finally:
        books.http.patch(path, json={"archived": False})
    assert books.http.patch(path, json={"archived": "yes"}).status_code == 400
    assert books.http.patch(f"/_sandbox/xero/tenants/{books.tenant}/contacts/{'0' * 32}", json={}).status_code == 404


def test_unknown_parameters_are_ignored_as_xero_ignores_them(books: Books) -> None:
    assert ids(books.listed("Invoices", {"colour": "blue"}), "InvoiceID") == ids(books.listed("Invoices"), "InvoiceID")
