"""Read routes for synced records: scoped to the caller, paginated, filtered."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import sync

pytestmark = pytest.mark.db


def test_synced_invoices_are_readable_by_their_owner_only(make_user: Callable[[], ApiUser], connect: Connect) -> None:
    owner, stranger = make_user(), make_user()
    integration = connect(owner, "xero")
    synced = sync(owner, integration["id"]).json()["result"]["syncedRecords"]

    page = owner.client.get("/api/integrations/xero/invoices", params={"limit": 50}).json()
    assert page["total"] == synced
    assert len(page["invoices"]) == 50
    invoice = page["invoices"][0]
    assert invoice["integrationId"] == integration["id"]
    assert set(invoice) >= {"xeroInvoiceId", "invoiceNumber", "status", "total", "amountDue", "providerUpdatedAt"}
    assert "userId" not in invoice

    rest = owner.client.get("/api/integrations/xero/invoices", params={"limit": 500, "offset": 50}).json()
    ids = [item["xeroInvoiceId"] for item in page["invoices"] + rest["invoices"]]
    assert len(ids) == len(set(ids))

    assert stranger.client.get("/api/integrations/xero/invoices").json()["total"] == 0
    probe = stranger.client.get("/api/integrations/xero/invoices", params={"integrationId": integration["id"]})
    assert probe.json()["total"] == 0


def test_status_filter(make_user: Callable[[], ApiUser], connect: Connect) -> None:
    user = make_user()
    integration = connect(user, "xero")
    sync(user, integration["id"])
    everything = user.client.get("/api/integrations/xero/invoices", params={"limit": 500}).json()
    status = everything["invoices"][0]["status"]
    filtered = user.client.get("/api/integrations/xero/invoices", params={"status": status, "limit": 500}).json()
    assert 0 < filtered["total"] <= everything["total"]
    assert {item["status"] for item in filtered["invoices"]} == {status}


def test_money_keeps_its_decimals(make_user: Callable[[], ApiUser], connect: Connect) -> None:
    user = make_user()
    integration = connect(user, "quickbooks")
    sync(user, integration["id"])
    invoices = user.client.get("/api/integrations/quickbooks/invoices", params={"limit": 500}).json()["invoices"]
    amounts = [str(item["totalAmount"]) for item in invoices]
    assert all(len(amount.split(".")[-1]) <= 4 for amount in amounts)  # NUMERIC(18,4), never a float artefact


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/integrations/quickbooks/invoices", {"status": "Paid"}),  # QuickBooks invoices carry no status
        ("/api/integrations/xero/invoices", {"limit": 0}),
        ("/api/integrations/xero/invoices", {"integrationId": "nope"}),
        ("/api/integrations/myob/invoices", {"status": "x' OR '1'='1"}),
    ],
)
def test_bad_filters_are_422(make_user: Callable[[], ApiUser], path: str, params: dict[str, str | int]) -> None:
    assert make_user().client.get(path, params=params).status_code == 422
