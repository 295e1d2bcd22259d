"""QuickBooks Online query endpoint over HTTP: paging, incremental queries, realms and Faults."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.provider_sandbox.helpers import SEED_CONTACTS, SEED_INVOICES, connect, new_tenant, qbo_query


@pytest.fixture
def qbo(http: httpx.Client, default_tenants: dict[str, str]) -> tuple[str, str]:
    return connect(http, "quickbooks").access, default_tenants["quickbooks"]


def test_startposition_paging_returns_every_invoice_once(http: httpx.Client, qbo: tuple[str, str]) -> None:
    token, realm = qbo
    seen: list[str] = []
    start = 1
    while True:
        body = qbo_query(
            http,
            token,
            realm,
            f"SELECT * FROM Invoice STARTPOSITION {start} MAXRESULTS 1000",  # noqa: S608
        ).json()
        invoices = body["QueryResponse"].get("Invoice", [])
        if not invoices:
            break
        assert body["QueryResponse"]["startPosition"] == start
        assert body["QueryResponse"]["maxResults"] == len(invoices)
        seen.extend(inv["Id"] for inv in invoices)
        start += len(invoices)
    assert len(seen) == len(set(seen)) == SEED_INVOICES
    assert start == SEED_INVOICES + 1


def test_count_and_customers(http: httpx.Client, qbo: tuple[str, str]) -> None:
    token, realm = qbo
    count = qbo_query(http, token, realm, "select count(*) from Invoice").json()
    assert count["QueryResponse"] == {"totalCount": SEED_INVOICES}
    assert "time" in count
    customers = qbo_query(http, token, realm, "select count(*) from Customer").json()["QueryResponse"]
    assert customers["totalCount"] == SEED_CONTACTS
    named = qbo_query(http, token, realm, "select * from Customer where DisplayName LIKE '%#7' maxresults 5").json()
    assert [c["Id"] for c in named["QueryResponse"]["Customer"]] == ["7"]


def test_default_page_is_100_and_orderby_works(http: httpx.Client, qbo: tuple[str, str]) -> None:
    token, realm = qbo
    body = qbo_query(http, token, realm, "select * from Invoice orderby Metadata.LastUpdatedTime desc").json()
    invoices = body["QueryResponse"]["Invoice"]
    assert len(invoices) == 100
    stamps = [datetime.fromisoformat(inv["MetaData"]["LastUpdatedTime"]) for inv in invoices]
    assert stamps == sorted(stamps, reverse=True)


def test_last_updated_time_filter_is_incremental(http: httpx.Client) -> None:
    realm = new_tenant(http, "quickbooks", invoices=200)
    token = connect(http, "quickbooks", tenant=realm).access
    everything = qbo_query(http, token, realm, "select * from Invoice maxresults 1000").json()
    high_water = max(
        datetime.fromisoformat(i["MetaData"]["LastUpdatedTime"]) for i in everything["QueryResponse"]["Invoice"]
    )
    since = (high_water + timedelta(seconds=1)).isoformat()
    incremental = f"select * from Invoice where Metadata.LastUpdatedTime > '{since}'"  # noqa: S608 - QBO, not SQL
    none = qbo_query(http, token, realm, incremental)
    assert none.json()["QueryResponse"] == {}
    change = http.post(f"/_sandbox/tenants/quickbooks/{realm}/mutations", json={"modify": 6, "add": 2}).json()
    body = qbo_query(http, token, realm, incremental).json()
    changed = body["QueryResponse"]["Invoice"]
    assert {i["Id"] for i in changed} == set(change["modified_ids"]) | set(change["added_ids"])
    assert all(int(i["SyncToken"]) == 1 for i in changed if i["Id"] in change["modified_ids"])


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select * form Invoice", "4000"),
        ("select from Invoice", "4000"),
        ("select * from Invoice where", "4000"),
        ("select * from Invoice maxresults ten", "4000"),
        ("", "4000"),
        ("select * from Invoice maxresults 1001", "4001"),
        ("select * from Widget", "4001"),
        ("select * from Invoice where Colour = 'red'", "4001"),
        ("select * from Invoice where Id = '1' or Id = '2'", "4001"),
    ],
)
def test_malformed_queries_are_validation_faults(
    http: httpx.Client, qbo: tuple[str, str], query: str, code: str
) -> None:
    token, realm = qbo
    response = qbo_query(http, token, realm, query)
    assert response.status_code == 400
    body = response.json()
    assert body["Fault"]["type"] == "ValidationFault"
    error = body["Fault"]["Error"][0]
    assert error["code"] == code
    assert error["Message"]
    assert error["Detail"]


def test_post_query_body_is_accepted(http: httpx.Client, qbo: tuple[str, str]) -> None:
    token, realm = qbo
    response = http.post(
        f"/quickbooks/api/v3/company/{realm}/query",
        content="select count(*) from Invoice",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/text",
        },
    )
    assert response.json()["QueryResponse"]["totalCount"] == SEED_INVOICES


def test_without_accept_json_the_answer_is_not_json(http: httpx.Client, qbo: tuple[str, str]) -> None:
    token, realm = qbo
    response = qbo_query(http, token, realm, "select * from Invoice", accept="*/*")
    assert response.status_code == 406
    assert response.headers["content-type"].startswith("application/xml")


def test_two_consents_give_two_realms(http: httpx.Client) -> None:
    realms = [t["tenant_id"] for t in http.get("/_sandbox/tenants", params={"provider": "quickbooks"}).json()][:2]
    first = connect(http, "quickbooks", tenant=realms[0])
    second = connect(http, "quickbooks", tenant=realms[1])
    assert first.redirect_params["realmId"] == realms[0]
    assert second.redirect_params["realmId"] == realms[1]
    assert qbo_query(http, first.access, realms[0], "select count(*) from Invoice").status_code == 200
    assert qbo_query(http, second.access, realms[1], "select count(*) from Invoice").status_code == 200
    cross = qbo_query(http, first.access, realms[1], "select count(*) from Invoice")
    assert cross.status_code == 403
    assert cross.json()["Fault"]["Error"][0]["code"] == "3100"


def test_expired_and_revoked_tokens_get_fault_3200(http: httpx.Client, qbo: tuple[str, str]) -> None:
    token, realm = qbo
    http.post("/_sandbox/tokens/expire", json={"provider": "quickbooks"})
    response = qbo_query(http, token, realm, "select * from Invoice")
    assert response.status_code == 401
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "3200"
    assert "AuthenticationFailed" in error["Message"]
    other = connect(http, "quickbooks").access
    assert http.post("/_sandbox/tokens/revoke", json={"provider": "quickbooks"}).json()["revoked_grants"] >= 2
    assert qbo_query(http, other, realm, "select * from Invoice").json()["Fault"]["type"] == "AUTHENTICATION"
