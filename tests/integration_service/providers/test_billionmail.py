"""BillionMail over real HTTP: the key tested when the integration is created, campaigns synced across
pages exactly once, and failures that BillionMail reports inside HTTP 200 treated as the failures they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from harness.core.processes import ServerProcess, free_port
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import fault, latest_log, listing_requests, stored, sync
from tests.integration_service.marketing import BILLIONMAIL, SANDBOX_KEY, billionmail, create_billionmail, instance

pytestmark = pytest.mark.db
SQL = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


def count_integrations(sql: SQL, user: ApiUser) -> int:
    row = sql.execute("SELECT count(*) FROM integrations_credentials WHERE user_id = %s", [user.name]).fetchone()
    assert row is not None
    return int(row[0])


def test_a_working_key_creates_the_integration_and_stores_it_encrypted(
    user: ApiUser, sandbox: ServerProcess, sql: SQL
) -> None:
    created = create_billionmail(user, sandbox.url)
    assert created.status_code == 201, created.text
    integration = created.json()["integration"]
    assert integration["hasApiKey"] is True
    assert integration["customData"] == {"baseUrl": f"{sandbox.url}/billionmail"}
    assert SANDBOX_KEY not in created.text
    row = sql.execute("SELECT row_to_json(c)::text FROM integrations_credentials c WHERE id = %s", [integration["id"]])
    assert SANDBOX_KEY not in str(row.fetchone())


def test_a_refused_key_is_a_clear_422_and_nothing_is_stored(user: ApiUser, sandbox: ServerProcess, sql: SQL) -> None:
    refused = create_billionmail(user, sandbox.url, api_key="bm-not-the-key-123456")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "connection_failed"
    assert "billionmail refused the API key (code 401)" in error["message"]
    assert error["details"] == {"provider": "billionmail", "field": "apiKey"}
    assert "bm-not-the-key-123456" not in refused.text
    assert count_integrations(sql, user) == 0


def test_an_unreachable_instance_is_a_clear_422(user: ApiUser, sql: SQL) -> None:
    refused = create_billionmail(user, f"http://127.0.0.1:{free_port()}")
    assert refused.status_code == 422, refused.text
    assert "could not reach the provider" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["field"] == "customData.baseUrl"
    assert count_integrations(sql, user) == 0


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [(None, "customData.baseUrl is required"), ("ftp://mail.example.com", "plain http(s) URL")],
)
def test_a_missing_or_odd_base_url_is_refused(user: ApiUser, base_url: str | None, problem: str, sql: SQL) -> None:
    refused = user.client.post(
        "/api/integrations",
        json={"integrationType": "BILLIONMAIL", "integrationName": "mail", "apiKey": SANDBOX_KEY,
              "customData": {} if base_url is None else {"baseUrl": base_url}},
    )  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert problem in refused.json()["error"]["message"]
    assert count_integrations(sql, user) == 0


def test_hundreds_of_campaigns_are_stored_once_across_pages_and_resync_adds_none(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = billionmail(user, sandbox.url)
    expected = instance(sandbox_control, BILLIONMAIL)["tasks"]
    assert expected >= 500
    since = max((r["seq"] for r in sandbox_control.get("/requests").json()), default=0)
    for full in (False, True):
        response = sync(user, integration["id"], "campaigns", fullResync=full)
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert (result["totalRecords"], result["syncedRecords"], result["failedRecords"]) == (expected, expected, 0)
        assert stored(sql, BILLIONMAIL, integration["id"]) == (expected, expected)
    pages = -(-expected // BILLIONMAIL.page_size)
    assert len(listing_requests(sandbox_control, BILLIONMAIL, since)) == 2 * pages
    row = sql.execute(
        "SELECT count(*) FILTER (WHERE status = 'completed' AND sent_count = recipient_count), "
        "count(*) FILTER (WHERE jsonb_array_length(group_ids) >= 1) FROM billionmail_campaigns "
        "WHERE integration_id = %s",
        [integration["id"]],
    ).fetchone()
    assert row is not None
    assert 0 < row[0] < expected  # most seeded tasks are sent, a few are scheduled or paused
    assert row[1] == expected


def test_an_error_inside_http_200_fails_the_sync_with_its_message(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = billionmail(user, sandbox.url)
    message = "The page_size value is not in acceptable range"
    fault(sandbox_control, BILLIONMAIL, kind="error", status=412, message=message, page=3, times=1)
    response = sync(user, integration["id"], "campaigns")
    assert response.status_code == 502, response.text
    result = response.json()["result"]
    assert result["status"] == "partial"
    assert result["syncedRecords"] == 2 * BILLIONMAIL.page_size  # the two pages before the refusal
    assert f"code 412: {message}" in result["message"]
    log = latest_log(sql, integration["id"])
    assert (log["status"], log["synced_records"]) == ("partial", 200)
    assert message in log["error_message"]
    shown = user.client.get(f"/api/integrations/{integration['id']}").json()["integration"]
    assert shown["syncStatus"] == "ERROR"
    assert message in shown["syncError"]


def test_a_rate_limit_inside_http_200_is_retried(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = billionmail(user, sandbox.url)
    fault(sandbox_control, BILLIONMAIL, kind="rate_limit", page=2, times=2)
    response = sync(user, integration["id"], "campaigns")
    assert response.status_code == 200, response.text
    expected = instance(sandbox_control, BILLIONMAIL)["tasks"]
    assert stored(sql, BILLIONMAIL, integration["id"]) == (expected, expected)


def test_a_rate_limit_that_outlasts_the_retries_is_reported_in_billionmails_words(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client
) -> None:
    integration = billionmail(user, sandbox.url)
    fault(sandbox_control, BILLIONMAIL, kind="rate_limit", page=1, times=None)
    response = sync(user, integration["id"], "campaigns")
    assert response.status_code == 502
    assert "code 509: Access restricted, rate limit exceeded" in response.json()["result"]["message"]
