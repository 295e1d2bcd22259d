"""monitor: each alert rule fires on data built to trigger it, and none fires on healthy data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.core.database import create_database, drop_database
from harness.core.paths import PROJECT_ROOT
from harness.ops.monitor import RULES, evaluate, parse_pool
from integration_service.db import migrations
from tests.harness.ops.drill import make_target

pytestmark = pytest.mark.db
Sql = psycopg.Connection[tuple[object, ...]]


def _log(sql: Sql, integration: object, user: object, kind: str, sync_type: str, status: str, error: str = "") -> None:
    sql.execute(
        "INSERT INTO integrations_sync_logs"
        " (integration_id, user_id, integration_type, sync_type, status, error_message)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        [integration, user, kind, sync_type, status, error or None],
    )


def _integration(sql: Sql, kind: str) -> tuple[object, object]:
    user = sql.execute("INSERT INTO users (name) VALUES (%s) RETURNING id", [uuid.uuid4().hex]).fetchone()
    assert user is not None
    row = sql.execute(
        "INSERT INTO integrations_credentials (user_id, integration_type, integration_name) VALUES (%s, %s, 'x')"
        " RETURNING id",
        [user[0], kind],
    ).fetchone()
    assert row is not None
    return row[0], user[0]


def _running(sql: Sql, kind: str, started: str, last_progress: str, of: tuple[object, object] | None = None) -> None:
    """A `running` sync log row (of a new integration unless `of` names one)."""
    integration, user = of or _integration(sql, kind)
    sql.execute(
        "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status,"
        " created_at, heartbeat_at) VALUES (%s, %s, %s, 'invoices', 'running', now() - %s::interval,"
        " now() - %s::interval)",
        [integration, user, kind, started, last_progress],
    )


def healthy(sql: Sql) -> None:
    integration, user = _integration(sql, "XERO")
    for status in ("failed", "failed", "success"):  # two failures, then a success: not 3 in a row
        _log(sql, integration, user, "XERO", "invoices", status, "HTTP 500" if status == "failed" else "")
    # A long sync that is still making progress is not stuck.
    _running(sql, "QUICKBOOKS", started="2 hours", last_progress="10 seconds")
    sql.execute(
        "INSERT INTO webhook_events (provider, event_id, event_type, outcome, payload, received_at, applied_at)"
        " VALUES ('stripe', 'evt_fast', 'charge.succeeded', 'applied', '{}', now(), now() + interval '1 second')"
    )


def fire(rule: str, sql: Sql) -> None:
    if rule == "sync_failed_3_times":
        integration, user = _integration(sql, "MYOB")
        for _ in range(3):
            _log(sql, integration, user, "MYOB", "invoices", "failed", "HTTP 500")
    elif rule == "sync_stuck_running":
        _running(sql, "XERO", started="50 minutes", last_progress="45 minutes")
    elif rule == "webhook_latency":
        sql.execute(
            "INSERT INTO webhook_events (provider, event_id, event_type, outcome, payload, received_at, applied_at)"
            " VALUES ('paypal', 'evt_slow', 'PAYMENT.SALE.COMPLETED', 'applied', '{}', now(), now() + interval '6 s')"
        )
    elif rule == "rate_limits":
        integration, user = _integration(sql, "XERO")
        _log(sql, integration, user, "XERO", "invoices", "partial", "HTTP 429 (Retry-After 3600 s)")
        # MYOB says "over rate" with a 403 and Retry-After; this is what the service logs for it.
        integration, user = _integration(sql, "MYOB")
        message = "127.0.0.1 answered HTTP 403 (Retry-After 3600 s) and kept doing so through every retry"
        _log(sql, integration, user, "MYOB", "invoices", "failed", message)
    elif rule == "token_refresh":
        integration, user = _integration(sql, "QUICKBOOKS")
        for status in ("failed", "success", "failed", "failed"):
            error = "token refresh failed: the provider refused the token request (invalid_grant)"
            _log(sql, integration, user, "QUICKBOOKS", "invoices", status, error if status == "failed" else "")
    elif rule == "payment_failures":
        integration, user = _integration(sql, "STRIPE")
        sql.execute(
            "INSERT INTO stripe_payments (integration_id, user_id, stripe_charge_id, status)"
            " VALUES (%s, %s, 'ch_1', 'failed')",
            [integration, user],
        )
    elif rule == "subscription_sync_failures":
        integration, user = _integration(sql, "PAYPAL")
        _log(sql, integration, user, "PAYPAL", "subscriptions", "failed", "HTTP 503")


@pytest.fixture
def fresh_database(database_server_url: str) -> Iterator[str]:
    name = f"monitor_{uuid.uuid4().hex[:10]}"
    url = create_database(database_server_url, name)
    migrations.upgrade(url)
    yield url
    drop_database(database_server_url, name)


def test_healthy_data_fires_nothing(fresh_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as sql:
        healthy(sql)
    result = evaluate(make_target(fresh_database, tmp_path, PROJECT_ROOT, pool_capacity=50))
    assert result.firing == []
    assert result.daily["errors in the last 24 h"] == [{"integration_type": "XERO", "errors": 2}]


@pytest.mark.parametrize("rule", [rule for rule in RULES if rule != "database_pool"])
def test_each_rule_fires_on_data_built_for_it(fresh_database: str, tmp_path: Path, rule: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as sql:
        healthy(sql)
        fire(rule, sql)
    result = evaluate(make_target(fresh_database, tmp_path, PROJECT_ROOT, pool_capacity=50))
    assert result.firing == [rule]


def test_runs_closed_as_interrupted_count_towards_three_failures_in_a_row(fresh_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as sql:
        integration, user = _integration(sql, "XERO")
        for _ in range(3):
            interrupted = "interrupted: the service stopped while this sync ran (crash or restart); run it again"
            _log(sql, integration, user, "XERO", "invoices", "failed", interrupted)
        # A fourth try, under way: it is no success, so the three failures before it still count.
        _running(sql, "XERO", started="0 seconds", last_progress="0 seconds", of=(integration, user))
    result = evaluate(make_target(fresh_database, tmp_path, PROJECT_ROOT, pool_capacity=50))
    assert result.firing == ["sync_failed_3_times"]


def test_how_long_without_progress_counts_as_stuck_is_the_callers_choice(fresh_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as sql:
        _running(sql, "MYOB", started="20 minutes", last_progress="10 minutes")
    target = make_target(fresh_database, tmp_path, PROJECT_ROOT, pool_capacity=50)
    assert evaluate(target).firing == []
    stuck = next(alert for alert in evaluate(target, stuck_sync_minutes=5).alerts if alert.rule == "sync_stuck_running")
    assert stuck.firing
    assert [(row["integration_type"], row["minutes_without_progress"]) for row in stuck.rows] == [("MYOB", "10")]


def test_the_pool_rule_fires_when_connections_near_the_capacity(fresh_database: str, tmp_path: Path) -> None:
    connections = [psycopg.connect(fresh_database) for _ in range(4)]
    try:
        target = make_target(fresh_database, tmp_path, PROJECT_ROOT, pool_capacity=5)
        assert evaluate(target).firing == ["database_pool"]
        assert evaluate(make_target(fresh_database, tmp_path, PROJECT_ROOT, pool_capacity=50)).firing == []
    finally:
        for connection in connections:
            connection.close()


def test_pool_usage_is_read_from_the_service_metrics() -> None:
    text = "# HELP x\nintegration_db_pool_in_use 17.0\nintegration_db_pool_size 20.0\n"
    assert parse_pool(text) == (17.0, 20.0)
    assert parse_pool("nothing here") is None


def test_a_rate_limit_answered_403_with_retry_after_counts_as_one(fresh_database: str, tmp_path: Path) -> None:
    """MYOB refuses an over-rate caller with 403 and Retry-After: the alert must count it like a 429."""
    with psycopg.connect(fresh_database, autocommit=True) as sql:
        healthy(sql)
        fire("rate_limits", sql)
    result = evaluate(make_target(fresh_database, tmp_path, PROJECT_ROOT, pool_capacity=50))
    alert = next(alert for alert in result.alerts if alert.rule == "rate_limits")
    assert {str(row.get("integration_type")) for row in alert.rows} == {"XERO", "MYOB"}, alert.rows
