"""MYOB AccountRight: company files, OData paging via NextPageLink, $filter, headers and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.provider_sandbox.helpers import SEED_INVOICES, connect, myob_get, myob_headers, new_tenant


@pytest.fixture
def myob(http: httpx.Client, default_tenants: dict[str, str]) -> tuple[str, str]:
    return connect(http, "myob").access, default_tenants["myob"]


def test_company_file_list_shows_the_consented_file(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    files = myob_get(http, token, "/").json()
    assert [f["Id"] for f in files] == [cf]
    assert files[0]["Uri"].endswith(f"/myob/api/accountright/{cf}")
    assert files[0]["ProductLevel"]["Name"]


def test_next_page_link_walks_every_invoice_once(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    first = myob_get(http, token, f"/{cf}/Sale/Invoice")
    body = first.json()
    assert body["Count"] == SEED_INVOICES
    assert len(body["Items"]) == 400  # MYOB's default page size
    seen = [item["UID"] for item in body["Items"]]
    pages = 1
    while body["NextPageLink"]:
        body = http.get(body["NextPageLink"], headers=myob_headers(token)).json()
        seen.extend(item["UID"] for item in body["Items"])
        pages += 1
    assert pages == 7
    assert len(seen) == len(set(seen)) == SEED_INVOICES


def test_top_and_skip(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    body = myob_get(http, token, f"/{cf}/Sale/Invoice", {"$top": 1000, "$skip": 2000}).json()
    assert len(body["Items"]) == 500
    assert body["NextPageLink"] is None
    for bad in ({"$top": 1001}, {"$top": "ten"}, {"$skip": -1}):
        response = myob_get(http, token, f"/{cf}/Sale/Invoice", bad)
        assert response.status_code == 400, bad
        assert response.json()["Errors"][0]["Name"] == "InvalidQuery"


def test_filter_on_last_modified_finds_exactly_the_changes(http: httpx.Client) -> None:
    cf = new_tenant(http, "myob", invoices=250)
    token = connect(http, "myob", tenant=cf).access
    items = myob_get(http, token, f"/{cf}/Sale/Invoice", {"$top": 1000}).json()["Items"]
    high_water = max(datetime.fromisoformat(i["LastModified"]).replace(tzinfo=UTC) for i in items)
    change = http.post(f"/_sandbox/tenants/myob/{cf}/mutations", json={"modify": 4, "add": 3}).json()
    stamp = (high_water + timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    body = myob_get(http, token, f"/{cf}/Sale/Invoice", {"$filter": f"LastModified gt datetime'{stamp}'"}).json()
    assert body["Count"] == 7
    assert {i["UID"] for i in body["Items"]} == set(change["modified_ids"]) | set(change["added_ids"])
    both = myob_get(
        http,
        token,
        f"/{cf}/Sale/Invoice",
        {"$filter": f"LastModified gt datetime'{stamp}' and Status eq 'Open'"},
    ).json()
    assert all(i["Status"] == "Open" for i in both["Items"])


def test_malformed_filter_is_a_400_in_myob_shape(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    response = myob_get(http, token, f"/{cf}/Sale/Invoice", {"$filter": "LastModified >> yesterday"})
    assert response.status_code == 400
    error = response.json()["Errors"][0]
    assert set(error) == {"Name", "Message", "AdditionalDetails", "ErrorCode", "Severity", "LearnMore"}


def test_required_headers(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    path = f"/{cf}/Sale/Invoice"
    no_key = {k: v for k, v in myob_headers(token).items() if k != "x-myobapi-key"}
    response = myob_get(http, token, path, headers=no_key)
    assert response.status_code == 403
    assert response.json()["Errors"][0]["Name"] == "DeveloperInactive"
    no_version = {k: v for k, v in myob_headers(token).items() if k != "x-myobapi-version"}
    response = myob_get(http, token, path, headers=no_version)
    assert response.status_code == 400
    assert "x-myobapi-version" in response.json()["Errors"][0]["Message"]
    with_cftoken = {**myob_headers(token), "x-myobapi-cftoken": "QWRtaW5pc3RyYXRvcjo="}
    assert myob_get(http, token, path, {"$top": 1}, headers=with_cftoken).status_code == 200


def test_api_key_must_be_the_client_the_token_was_issued_to(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    http.post("/_sandbox/clients", json={"provider": "myob", "client_id": "other-myob-key", "client_secret": "x"})
    response = myob_get(http, token, f"/{cf}/Sale/Invoice", headers=myob_headers(token, key="other-myob-key"))
    assert response.status_code == 401
    assert response.json()["Errors"][0]["Name"] == "OAuthTokenIsInvalid"


def test_expired_token_and_unknown_or_foreign_company_file(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    other = next(
        t["tenant_id"]
        for t in http.get("/_sandbox/tenants", params={"provider": "myob"}).json()
        if t["tenant_id"] != cf
    )
    assert myob_get(http, token, f"/{other}/Sale/Invoice").status_code == 403
    assert myob_get(http, token, "/00000000-0000-0000-0000-000000000000/Sale/Invoice").status_code == 404
    http.post("/_sandbox/tokens/expire", json={"token": token})
    expired = myob_get(http, token, f"/{cf}/Sale/Invoice")
    assert expired.status_code == 401
    assert expired.json()["Errors"][0]["ErrorCode"] == 31001


def test_invoice_type_subresource(http: httpx.Client, myob: tuple[str, str]) -> None:
    token, cf = myob
    service = myob_get(http, token, f"/{cf}/Sale/Invoice/Service", {"$top": 50}).json()
    assert service["Items"]
    assert all(i["InvoiceType"] == "Service" for i in service["Items"])
    assert myob_get(http, token, f"/{cf}/Sale/Invoice/Bogus").status_code == 404
