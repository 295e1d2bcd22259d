"""Mautic over real HTTP: OAuth connect, campaigns (keyed by id in an object) synced across pages
exactly once, rotated refresh tokens persisted, and a revoked connection reported once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import (
    fault,
    latest_log,
    listing_requests,
    sandbox_grants,
    sha256,
    stored,
    stored_tokens,
    sync,
)
from tests.integration_service.marketing import MAUTIC, instance

pytestmark = pytest.mark.db
SQL = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


def test_connecting_stores_the_issued_tokens_encrypted(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, "mautic")
    assert integration["integrationType"] == "MAUTIC"
    assert (integration["hasAccessToken"], integration["hasRefreshToken"]) == (True, True)
    access, refresh = stored_tokens(sql, integration["id"])
    grants = sandbox_grants(sandbox_control, MAUTIC)
    assert sha256(access) in {token["sha256"] for grant in grants for token in grant["access_tokens"]}
    assert sha256(refresh) in {grant["current_refresh_sha256"] for grant in grants}


def test_hundreds_of_campaigns_are_stored_once_across_pages_and_resync_adds_none(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, "mautic")
    expected = instance(sandbox_control, MAUTIC)["campaigns"]
    assert expected >= 500
    since = max((r["seq"] for r in sandbox_control.get("/requests").json()), default=0)
    for full in (False, True):
        response = sync(user, integration["id"], "campaigns", fullResync=full)
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert (result["totalRecords"], result["syncedRecords"], result["failedRecords"]) == (expected, expected, 0)
        assert stored(sql, MAUTIC, integration["id"]) == (expected, expected)
    listings = [r for r in listing_requests(sandbox_control, MAUTIC, since) if r["method"] == "GET"]
    assert len(listings) == 2 * -(-expected // MAUTIC.page_size)
    published = sql.execute(
        "SELECT count(*) FILTER (WHERE is_published), count(*) FILTER (WHERE name IS NULL) FROM mautic_campaigns "
        "WHERE integration_id = %s",
        [integration["id"]],
    ).fetchone()
    assert published is not None
    assert 0 < published[0] < expected  # the seed publishes about 60%
    assert published[1] == 0
    assert instance(sandbox_control, MAUTIC)["published_campaigns"] >= published[0]


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_is_persisted(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, "mautic")
    access, refresh = stored_tokens(sql, integration["id"])
    for _ in range(2):  # twice: the second refresh works only with the refresh token the first one stored
        sandbox_control.post("/tokens/expire", json={"token": access}).raise_for_status()
        tested = user.client.post(f"/api/integrations/{integration['id']}/test")
        assert tested.status_code == 200, tested.text
        new_access, new_refresh = stored_tokens(sql, integration["id"])
        assert (new_access != access, new_refresh != refresh) == (True, True)
        assert sha256(new_refresh) in {
            grant["current_refresh_sha256"] for grant in sandbox_grants(sandbox_control, MAUTIC)
        }
        access, refresh = new_access, new_refresh


def test_a_revoked_connection_fails_the_test_clearly_and_marks_the_integration(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, "mautic")
    assert user.client.post(f"/api/integrations/{integration['id']}/test").status_code == 200
    access, _ = stored_tokens(sql, integration["id"])
    sandbox_control.post("/tokens/revoke", json={"token": access}).raise_for_status()
    tested = user.client.post(f"/api/integrations/{integration['id']}/test")
    assert tested.status_code == 422, tested.text
    error = tested.json()["error"]
    assert error["code"] == "connection_failed"
    assert "reconnect the integration" in error["message"]
    shown = user.client.get(f"/api/integrations/{integration['id']}").json()["integration"]
    assert shown["syncStatus"] == "ERROR"
    assert "reconnect" in shown["syncError"]


def test_a_failing_page_leaves_a_partial_sync_with_true_counts(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client, sql: SQL
) -> None:
    integration = connect(user, "mautic")
    fault(sandbox_control, MAUTIC, kind="error", status=400, message="start: This value is not valid.", page=4)
    response = sync(user, integration["id"], "campaigns")
    assert response.status_code == 502, response.text
    assert "start: This value is not valid." in response.json()["result"]["message"]
    log = latest_log(sql, integration["id"])
    assert (log["status"], log["synced_records"]) == ("partial", 3 * MAUTIC.page_size)
    assert stored(sql, MAUTIC, integration["id"]) == (300, 300)


def test_connecting_names_the_missing_settings_when_mautic_is_not_configured(
    service_factory: Callable[..., Any], make_user: Callable[[], ApiUser]
) -> None:
    bare = service_factory()  # no MAUTIC_* settings at all
    user = make_user()
    with httpx.Client(base_url=bare.url, headers={"Authorization": f"Bearer {user.token}"}) as client:
        refused = client.get("/api/integrations/mautic/connect")
    assert refused.status_code == 503
    assert refused.json()["error"]["message"] == (
        "MAUTIC_CLIENT_ID, MAUTIC_CLIENT_SECRET and MAUTIC_BASE_URL are not configured on this service"
    )
