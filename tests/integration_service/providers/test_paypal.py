"""The PayPal provider over real HTTP (service → sandbox): payment history and subscription syncs,
the cached client-credentials token, and PayPal's errors in the API's error shape."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.service import ApiUser, RunningService
from tests.integration_service.paypal_helpers import (
    SQL,
    Merchant,
    approve,
    merchant,
    paypal_integration,
)

__all__ = ["merchant"]  # a fixture, used by name

pytestmark = pytest.mark.db


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


def sync(user: ApiUser, integration_id: str, data_type: str, full: bool = False) -> httpx.Response:
    return user.client.post(
        "/api/integrations/sync", json={"integrationId": integration_id, "dataType": data_type, "fullResync": full}
    )


def stored_payments(sql: SQL, integration_id: str) -> list[str]:
    rows = sql.execute(
        "SELECT paypal_payment_id FROM paypal_payments WHERE integration_id = %s", [integration_id]
    ).fetchall()
    return [str(row[0]) for row in rows]


def token_requests(control: httpx.Client, since: int) -> int:
    recorded = control.get("/requests", params={"provider": "paypal", "path_contains": "/oauth2/token"}).json()
    return sum(1 for request in recorded if request["seq"] > since)


def last_seq(control: httpx.Client) -> int:
    recorded = control.get("/requests", params={"provider": "paypal"}).json()
    return max((request["seq"] for request in recorded), default=0)


def test_payment_history_sync_pages_through_every_payment_once_and_resync_adds_none(
    user: ApiUser, merchant: Merchant, sandbox_control: httpx.Client, sql: SQL
) -> None:
    expected = merchant.every_payment_id()
    assert len(expected) >= 45  # the seeded history: three pages of at most 20
    integration = paypal_integration(user)
    since = last_seq(sandbox_control)

    first = sync(user, integration, "payments")
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert (result["totalRecords"], result["syncedRecords"], result["failedRecords"]) == (len(expected),) * 2 + (0,)
    stored = stored_payments(sql, integration)
    assert sorted(stored) == sorted(expected)
    listing = sandbox_control.get("/requests", params={"provider": "paypal", "path_contains": "/payments/payment"})
    pages = [r for r in listing.json() if r["seq"] > since and r["method"] == "GET"]
    assert len(pages) == -(-len(expected) // 20)
    assert sum("start_id" in r["query"] for r in pages) == len(pages) - 1  # every page after the first follows next_id

    again = sync(user, integration, "payments", full=True)
    assert again.status_code == 200, again.text
    assert again.json()["result"]["syncedRecords"] == len(expected)
    assert sorted(stored_payments(sql, integration)) == sorted(expected)

    seeded = merchant.get(f"/v1/payments/payment/{expected[-1]}")
    sale = seeded["transactions"][0]["related_resources"][0]["sale"]
    row = sql.execute(
        "SELECT state, amount, currency, sale_id, payer_id FROM paypal_payments "
        "WHERE integration_id = %s AND paypal_payment_id = %s",
        [integration, expected[-1]],
    ).fetchone()
    assert row is not None
    assert (row[0], str(row[1]), row[2], row[3]) == (
        "completed",
        f"{float(sale['amount']['total']):.4f}",
        "USD",
        sale["id"],
    )
    assert row[4] == seeded["payer"]["payer_info"]["payer_id"]


def test_subscription_sync_refreshes_the_subscriptions_the_integration_knows(
    user: ApiUser, merchant: Merchant, sql: SQL
) -> None:
    integration = paypal_integration(user)
    plan = user.client.post(
        "/api/integrations/paypal/plans",
        json={
            "integrationId": integration,
            "productId": "PROD-CRM-SYNC",
            "name": "Sync plan",
            "amount": "9.00",
            "currency": "USD",
        },
    )
    assert plan.status_code == 201, plan.text
    created = user.client.post(
        "/api/integrations/paypal/subscriptions",
        json={
            "integrationId": integration,
            "planId": plan.json()["plan"]["id"],
            "returnUrl": "https://crm.example/return",
            "cancelUrl": "https://crm.example/cancel",
        },
    )
    assert created.status_code == 201, created.text
    subscription_id = created.json()["subscription"]["paypalSubscriptionId"]
    # Approved at PayPal behind the service's back, and the webhook lost: only a sync can tell.
    approve(created.json()["approvalUrl"])
    sql.execute(
        "UPDATE paypal_subscriptions SET status = 'APPROVAL_PENDING', state_at = NULL "
        "WHERE paypal_subscription_id = %s",
        [subscription_id],
    )

    synced = sync(user, integration, "subscriptions")
    assert synced.status_code == 200, synced.text
    assert synced.json()["result"]["syncedRecords"] == 1
    assert merchant.get(f"/v1/billing/subscriptions/{subscription_id}")["status"] == "ACTIVE"
    row = sql.execute(
        "SELECT status FROM paypal_subscriptions WHERE integration_id = %s AND paypal_subscription_id = %s",
        [integration, subscription_id],
    ).fetchone()
    assert row is not None
    assert row[0] == "ACTIVE"


def test_the_access_token_is_fetched_once_and_replaced_when_paypal_rejects_it(
    user: ApiUser, sandbox_control: httpx.Client
) -> None:
    client_id, secret = f"crm-app-{uuid.uuid4().hex[:8]}", f"secret-{uuid.uuid4().hex}"
    registered = sandbox_control.post(
        "/clients", json={"provider": "paypal", "client_id": client_id, "client_secret": secret, "app_name": "CRM"}
    )
    assert registered.status_code == 201, registered.text
    integration = paypal_integration(user, client_id, secret)  # the web process checks the secret: its token
    since = last_seq(sandbox_control)
    for _ in range(3):
        assert sync(user, integration, "payments").status_code == 200
    # Syncs run on the worker, which caches a token of its own: every call after its first reused it.
    assert token_requests(sandbox_control, since) == 1

    sandbox_control.post("/tokens/expire", json={"provider": "paypal"}).raise_for_status()
    since = last_seq(sandbox_control)
    assert sync(user, integration, "payments").status_code == 200
    assert token_requests(sandbox_control, since) == 1  # the 401 dropped it; one fresh token, then success


def test_a_wrong_secret_is_a_clear_error_that_never_shows_it(user: ApiUser, service: RunningService) -> None:
    integration = paypal_integration(user)  # a valid secret, whose token the service has cached
    wrong = f"wrong-secret-{uuid.uuid4().hex}"
    patched = user.client.patch(f"/api/integrations/{integration}", json={"apiSecret": wrong})
    assert patched.status_code == 200, patched.text

    answer = user.client.post(
        "/api/integrations/paypal/payments",
        json={
            "integrationId": integration,
            "amount": "5.00",
            "currency": "USD",
            "returnUrl": "https://crm.example/return",
            "cancelUrl": "https://crm.example/cancel",
        },
    )
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["code"] == "provider_error"
    assert "invalid_client" in error["message"]
    assert "apiSecret" in error["message"]
    failed = sync(user, integration, "payments")
    assert failed.status_code == 502
    assert failed.json()["result"]["status"] == "failed"
    assert wrong not in answer.text + failed.text + service.log_text()


def test_paypal_refusals_keep_paypals_name_and_message(user: ApiUser) -> None:
    integration = paypal_integration(user)
    answer = user.client.post(
        "/api/integrations/paypal/payments/PAYID-DOESNOTEXIST000000000000/execute",
        json={"integrationId": integration, "payerId": "ABCDEFGHJKLMN"},
    )
    assert answer.status_code == 404, answer.text
    assert "INVALID_RESOURCE_ID" in answer.json()["error"]["message"]
    inactive = user.client.post(
        "/api/integrations/paypal/plans/P-NOTAPLAN/activate", json={"integrationId": integration}
    )
    assert inactive.status_code == 404
    assert "RESOURCE_NOT_FOUND" in inactive.json()["error"]["message"]
