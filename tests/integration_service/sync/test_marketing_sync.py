"""One user's integrations at different providers syncing at the same time: each stores its own records
and writes its own log, and one that fails leaves the others' results and logs untouched."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from harness.core.processes import ServerProcess
from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import QUICKBOOKS, default_tenant, fault, latest_log, stored, sync
from tests.integration_service.marketing import BILLIONMAIL, MAUTIC, billionmail, instance

pytestmark = pytest.mark.db
SQL = psycopg.Connection[tuple[Any, ...]]


def test_three_providers_sync_at_once_and_a_failing_one_touches_no_other(
    make_user: Callable[[], ApiUser], connect: Connect, sandbox: ServerProcess, sandbox_control: httpx.Client, sql: SQL
) -> None:
    user = make_user()
    mail, mautic, books = billionmail(user, sandbox.url), connect(user, "mautic"), connect(user, "quickbooks")
    # Mautic fails on its second page every time (retried, then given up); BillionMail is slowed so
    # that the three runs certainly overlap.
    fault(sandbox_control, MAUTIC, kind="error", status=503, page=2, times=None)
    fault(sandbox_control, BILLIONMAIL, kind="delay", delay_ms=800, page=2, times=1)
    jobs = [(mail, "campaigns"), (mautic, "campaigns"), (books, "invoices")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        responses = list(pool.map(lambda job: sync(user, job[0]["id"], job[1]), jobs))
    assert [response.status_code for response in responses] == [200, 502, 200], [r.text for r in responses]

    campaigns = instance(sandbox_control, BILLIONMAIL)["tasks"]
    invoices = default_tenant(sandbox_control, QUICKBOOKS)["invoices"]
    assert stored(sql, BILLIONMAIL, mail["id"]) == (campaigns, campaigns)
    assert stored(sql, QUICKBOOKS, books["id"]) == (invoices, invoices)
    assert stored(sql, MAUTIC, mautic["id"]) == (MAUTIC.page_size, MAUTIC.page_size)  # page 1 only

    logs = {name: latest_log(sql, item["id"]) for name, item in (("mail", mail), ("mautic", mautic), ("books", books))}
    assert (logs["mail"]["status"], logs["mail"]["synced_records"], logs["mail"]["error_message"]) == (
        "success",
        campaigns,
        None,
    )
    assert (logs["books"]["status"], logs["books"]["synced_records"], logs["books"]["error_message"]) == (
        "success",
        invoices,
        None,
    )
    assert (logs["mautic"]["status"], logs["mautic"]["synced_records"]) == ("partial", MAUTIC.page_size)
    assert "HTTP 503" in logs["mautic"]["error_message"]
    statuses = {item["id"]: item["syncStatus"] for item in user.client.get("/api/integrations").json()["integrations"]}
    assert statuses == {mail["id"]: "SUCCESS", mautic["id"]: "ERROR", books["id"]: "SUCCESS"}
