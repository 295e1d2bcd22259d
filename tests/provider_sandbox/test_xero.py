"""Xero Accounting API: envelope, paging, If-Modified-Since, filters and error shapes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.provider_sandbox.helpers import SEED_CONTACTS, SEED_INVOICES, connect, new_tenant, xero_get

MS_DATE = re.compile(r"^/Date\(\d{12,13}\+0000\)/$")


@pytest.fixture
def xero(http: httpx.Client, default_tenants: dict[str, str]) -> tuple[str, str]:
    return connect(http, "xero").access, default_tenants["xero"]


def ms_to_datetime(value: str) -> datetime:
    millis = int(value[len("/Date(") : value.index("+")])
    return datetime.fromtimestamp(millis / 1000, UTC)


def test_invoice_pages_cover_every_invoice_exactly_once(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    seen: list[str] = []
    page = 1
    while True:
        body = xero_get(http, token, tenant, "Invoices", {"page": page}).json()
        invoices = body["Invoices"]
        assert body["pagination"] == {
            "page": page,
            "pageSize": 100,
            "pageCount": 25,
            "itemCount": SEED_INVOICES,
        }
        if not invoices:
            break
        assert len(invoices) <= 100
        assert all("LineItems" in inv for inv in invoices)  # paged requests include line items
        seen.extend(inv["InvoiceID"] for inv in invoices)
        page += 1
    assert page == 26  # 25 full pages, then an empty one stops the loop
    assert len(seen) == len(set(seen)) == SEED_INVOICES


def test_page_size_parameter_and_its_limit(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    body = xero_get(http, token, tenant, "Invoices", {"page": 3, "pageSize": 1000}).json()
    assert len(body["Invoices"]) == SEED_INVOICES - 2000
    assert body["pagination"]["pageCount"] == 3
    too_big = xero_get(http, token, tenant, "Invoices", {"page": 1, "pageSize": 1001})
    assert too_big.status_code == 400
    assert too_big.json()["Type"] == "ValidationException"


def test_unpaged_request_returns_everything_without_line_items(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    body = xero_get(http, token, tenant, "Invoices").json()
    assert "pagination" not in body
    assert len(body["Invoices"]) == SEED_INVOICES
    assert "LineItems" not in body["Invoices"][0]


def test_envelope_and_ms_json_dates(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    response = xero_get(http, token, tenant, "Invoices", {"page": 1})
    body = response.json()
    assert body["Status"] == "OK"
    assert body["ProviderName"] == "NextCRM Sandbox App"
    assert MS_DATE.match(body["DateTimeUTC"])
    invoice = body["Invoices"][0]
    for key in ("UpdatedDateUTC", "Date", "DueDate"):
        assert MS_DATE.match(invoice[key]), invoice[key]
    assert invoice["Total"] == pytest.approx(invoice["SubTotal"] + invoice["TotalTax"])
    assert response.headers["X-MinLimit-Remaining"].isdigit()


def test_contacts_paging(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    ids: list[str] = []
    for page in range(1, 5):
        contacts = xero_get(http, token, tenant, "Contacts", {"page": page}).json()["Contacts"]
        ids.extend(c["ContactID"] for c in contacts)
    assert len(ids) == len(set(ids)) == SEED_CONTACTS


def test_if_modified_since_returns_only_changed_records(http: httpx.Client) -> None:
    tenant = new_tenant(http, "xero", invoices=300, contacts=30)
    token = connect(http, "xero", tenant=tenant).access
    everything = xero_get(http, token, tenant, "Invoices", {"page": 1, "pageSize": 1000}).json()["Invoices"]
    high_water = max(ms_to_datetime(inv["UpdatedDateUTC"]) for inv in everything)
    since = {"If-Modified-Since": (high_water + timedelta(milliseconds=1)).isoformat()}
    assert xero_get(http, token, tenant, "Invoices", {"page": 1}, since).json()["Invoices"] == []

    change = http.post(
        f"/_sandbox/tenants/xero/{tenant}/mutations", json={"modify": 7, "add": 5, "modify_contacts": 3}
    ).json()
    changed = xero_get(http, token, tenant, "Invoices", {"page": 1}, since).json()["Invoices"]
    assert {inv["InvoiceID"] for inv in changed} == set(change["modified_ids"]) | set(change["added_ids"])
    assert all(ms_to_datetime(inv["UpdatedDateUTC"]) > high_water for inv in changed)
    contacts = xero_get(http, token, tenant, "Contacts", None, since).json()["Contacts"]
    assert {c["ContactID"] for c in contacts} == set(change["modified_contact_ids"])
    # RFC 1123 dates (what some HTTP clients send) work too.
    http_date = {"If-Modified-Since": (high_water + timedelta(seconds=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")}
    assert len(xero_get(http, token, tenant, "Invoices", None, http_date).json()["Invoices"]) == 12


def test_bad_if_modified_since_is_a_validation_error(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    response = xero_get(http, token, tenant, "Invoices", None, {"If-Modified-Since": "yesterday"})
    assert response.status_code == 400
    assert response.json()["Type"] == "ValidationException"


def test_where_statuses_and_order(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    paid = xero_get(http, token, tenant, "Invoices", {"where": 'Status=="PAID"'}).json()["Invoices"]
    assert paid
    assert all(inv["Status"] == "PAID" for inv in paid)
    both = xero_get(http, token, tenant, "Invoices", {"Statuses": "PAID,VOIDED"}).json()["Invoices"]
    assert {inv["Status"] for inv in both} == {"PAID", "VOIDED"}
    ordered = xero_get(http, token, tenant, "Invoices", {"order": "UpdatedDateUTC DESC", "page": 1}).json()
    stamps = [ms_to_datetime(inv["UpdatedDateUTC"]) for inv in ordered["Invoices"]]
    assert stamps == sorted(stamps, reverse=True)
    bad = xero_get(http, token, tenant, "Invoices", {"where": 'Reference.ToLower()=="po-1"'})  # test_xero_where.py
    assert bad.status_code == 400
    assert bad.json()["Type"] == "QueryParseException"


def test_tenant_header_is_required_and_checked(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    missing = xero_get(http, token, None, "Invoices")
    assert missing.status_code == 403
    assert missing.json()["Title"] == "Forbidden"
    other = next(
        t["tenant_id"]
        for t in http.get("/_sandbox/tenants", params={"provider": "xero"}).json()
        if t["tenant_id"] != tenant
    )
    not_consented = xero_get(http, token, other, "Invoices")
    assert not_consented.status_code == 403
    assert not_consented.json()["Detail"] == "AuthenticationUnsuccessful"


def test_401_shapes_for_missing_expired_and_revoked_tokens(http: httpx.Client, xero: tuple[str, str]) -> None:
    token, tenant = xero
    missing = http.get("/xero/api/api.xro/2.0/Invoices", headers={"xero-tenant-id": tenant})
    assert missing.status_code == 401
    assert set(missing.json()) == {"Type", "Title", "Status", "Detail", "Instance", "Extensions"}
    http.post("/_sandbox/tokens/expire", json={"token": token})
    expired = xero_get(http, token, tenant, "Invoices")
    assert expired.status_code == 401
    assert expired.json()["Detail"].startswith("TokenExpired: token expired at ")
    fresh = connect(http, "xero").access
    http.post("/_sandbox/tokens/revoke", json={"token": fresh})
    revoked = xero_get(http, fresh, tenant, "Invoices")
    assert revoked.status_code == 401
    assert revoked.json()["Detail"] == "AuthenticationUnsuccessful"
