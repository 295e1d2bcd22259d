"""`GET /api/integrations/logs`: scoped to the caller, filtered, paginated."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest

from tests.fixtures.service import ApiUser

pytestmark = pytest.mark.db


def integration_with_logs(
    user: ApiUser,
    sql: psycopg.Connection[tuple[object, ...]],
    statuses: list[str],
    sync_type: str = "invoices",
) -> str:
    name = f"books-{uuid.uuid4().hex[:6]}"
    created = user.client.post("/api/integrations", json={"integrationType": "XERO", "integrationName": name})
    integration_id: str = created.json()["integration"]["id"]
    for status in statuses:
        sql.execute(
            "INSERT INTO integrations_sync_logs"
            " (integration_id, user_id, integration_type, sync_type, status)"
            " SELECT id, user_id, integration_type, %s, %s FROM integrations_credentials WHERE id = %s",
            [sync_type, status, integration_id],
        )
    return integration_id


def test_a_user_sees_only_their_own_logs(
    make_user: Callable[[], ApiUser], sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    owner, stranger = make_user(), make_user()
    owners_integration = integration_with_logs(owner, sql, ["success", "failed"])
    integration_with_logs(stranger, sql, ["success"])

    owners = owner.client.get("/api/integrations/logs").json()
    assert owners["total"] == 2
    assert {log["integrationId"] for log in owners["logs"]} == {owners_integration}

    strangers = stranger.client.get("/api/integrations/logs").json()
    assert strangers["total"] == 1
    assert owners_integration not in {log["integrationId"] for log in strangers["logs"]}
    # Asking for the other user's integration by id finds nothing rather than their logs.
    probe = stranger.client.get("/api/integrations/logs", params={"integrationId": owners_integration})
    assert probe.json()["total"] == 0


def test_filters_and_pagination(make_user: Callable[[], ApiUser], sql: psycopg.Connection[tuple[object, ...]]) -> None:
    user = make_user()
    integration_with_logs(user, sql, ["success", "failed", "failed", "partial"])
    integration_with_logs(user, sql, ["success"], sync_type="webhook")

    failed = user.client.get("/api/integrations/logs", params={"status": "failed"}).json()
    assert failed["total"] == 2
    assert {log["status"] for log in failed["logs"]} == {"failed"}
    webhooks = user.client.get("/api/integrations/logs", params={"syncType": "webhook"}).json()
    assert webhooks["total"] == 1
    page = user.client.get("/api/integrations/logs", params={"limit": 2, "offset": 4}).json()
    assert page["total"] == 5
    assert len(page["logs"]) == 1
    future = user.client.get("/api/integrations/logs", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"status": "exploded"},
        {"limit": 0},
        {"limit": 1000},
        {"integrationId": "not-a-uuid"},
        {"since": "yesterday"},
        {"since": "2025-01-01T00:00:00"},
    ],
)
def test_bad_filters_are_422_naming_the_problem(make_user: Callable[[], ApiUser], params: dict[str, str | int]) -> None:
    response = make_user().client.get("/api/integrations/logs", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
