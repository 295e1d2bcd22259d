"""Steps of the monitoring checklist: the daily checks and the alert rules, evaluated by the real monitor
(`harness.ops.monitor`) on a scratch database seeded with the rows a scenario describes, or on the stage
itself after the scenario's own users made the evidence (`steps.support.own_rows` checks that it is covered).
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from pytest_bdd import given, parsers, then, when

from harness.ops.monitor import DAILY_CHECKS, RULES, MonitorResult, evaluate
from steps.common import World
from steps.support.accounting import integration
from steps.support.lab import (
    SQL,
    OpsLab,
    matches_table,
    seed_integration,
    seed_log,
    seed_running,
    seed_webhook,
    stage_target,
)
from steps.support.own_rows import StageMonitor, assert_covers, own_monitor

# --- monitoring: daily checks and alert rules -----------------------------------------------------------


@given("the scratch database holds a healthy day of syncs and webhooks")
def healthy_day(ops: OpsLab) -> None:
    with ops.sql() as connection:
        books = seed_integration(connection, ops, "healthy-books", "XERO")
        for status in ("failed", "failed", "success"):  # two failures, then a success: not 3 in a row
            seed_log(connection, books, status, error="HTTP 500" if status == "failed" else "", age="2 hours")
        charges = seed_integration(connection, ops, "healthy-charges", "STRIPE")
        seed_log(connection, charges, "success", age="1 hour", sync_type="payments")
        seed_webhook(connection, "stripe", "applied", "1 hour", "1 second")
        # A long sync still making progress is not stuck.
        seed_running(connection, seed_integration(connection, ops, "healthy-ledger", "MYOB"), "2 hours", "10 seconds")


def trigger(rule: str, lab: OpsLab, connection: SQL) -> None:
    """Rows (or connections) built to make exactly `rule` fire."""
    if rule == "sync_failed_3_times":
        files = seed_integration(connection, lab, "failing-files", "MYOB")
        for age in ("3 hours", "2 hours", "1 hour"):
            seed_log(connection, files, "failed", error="HTTP 500", age=age)
    elif rule == "webhook_latency":
        seed_webhook(connection, "paypal", "applied", "10 minutes", "6 seconds")
    elif rule == "sync_stuck_running":
        seed_running(connection, seed_integration(connection, lab, "stuck-books", "XERO"), "50 minutes", "45 minutes")
    elif rule == "database_pool":
        target = lab.current()
        target.pool_capacity = 5
        for _ in range(4):
            held = psycopg.connect(target.database_url)
            lab.cleanups.append(held.close)
    elif rule == "rate_limits":
        books = seed_integration(connection, lab, "limited-books", "XERO")
        seed_log(connection, books, "partial", error="HTTP 429 (Retry-After 3600 s)")
    elif rule == "token_refresh":
        company = seed_integration(connection, lab, "expired-company", "QUICKBOOKS")
        for status, age in (("failed", "4 hours"), ("success", "3 hours"), ("failed", "2 hours"), ("failed", "1 hour")):
            error = "token refresh failed: the provider refused the token request (invalid_grant)"
            seed_log(connection, company, status, error=error if status == "failed" else "", age=age)
    elif rule == "payment_failures":
        integration_id, user, _ = seed_integration(connection, lab, "declining-charges", "STRIPE")
        connection.execute(
            "INSERT INTO stripe_payments (integration_id, user_id, stripe_charge_id, status)"
            " VALUES (%s, %s, %s, 'failed')",
            [integration_id, user, f"ch_{uuid.uuid4().hex[:12]}"],
        )
    elif rule == "subscription_sync_failures":
        plans = seed_integration(connection, lab, "paypal-plans", "PAYPAL")
        seed_log(connection, plans, "failed", error="HTTP 503", sync_type="subscriptions")
    else:
        pytest.fail(f"no trigger is written for the alert rule {rule!r}")


@given(parsers.re(r'the scratch database holds (?P<description>.+), built to trigger "(?P<rule>[a-z_0-9]+)"$'))
def scratch_trigger(ops: OpsLab, description: str, rule: str) -> None:
    with ops.sql() as connection:
        trigger(rule, ops, connection)


@when("the daily checks run on the scratch database")
@when("the alert rules are evaluated on the scratch database")
def monitor_scratch(ops: OpsLab) -> None:
    ops.facts.monitor = evaluate(ops.current())


def monitor_result(ops: OpsLab) -> MonitorResult:
    result = ops.facts.monitor
    assert isinstance(result, MonitorResult), "the monitor has not run in this scenario"
    return result


@then(parsers.parse('the daily check "{check}" shows:'))
def daily_check_shows(ops: OpsLab, check: str, datatable: list[list[str]]) -> None:
    assert check in DAILY_CHECKS, f"no daily check {check!r}; the monitor has {list(DAILY_CHECKS)}"
    wanted, shown = matches_table(monitor_result(ops).daily[check], datatable)
    assert shown == wanted, f"daily check {check!r}: expected {wanted}, the monitor showed {shown}"


@then(parsers.parse('only the alert "{rule}" fires'))
def only_alert_fires(ops: OpsLab, rule: str) -> None:
    assert rule in RULES, f"no alert rule {rule!r}; the monitor has {list(RULES)}"
    result = monitor_result(ops)
    details = {alert.rule: alert.rows for alert in result.alerts if alert.firing}
    assert result.firing == [rule], f"expected only {rule!r} to fire; firing: {details}"


@then("no alert fires")
def no_alert_fires(ops: OpsLab) -> None:
    result = monitor_result(ops)
    assert len(result.alerts) == len(RULES), f"expected all {len(RULES)} rules evaluated, got {result.firing}"
    details = {alert.rule: alert.rows for alert in result.alerts if alert.firing}
    assert result.firing == [], f"a healthy day fired alerts: {details}"


# --- the monitor on the stage, over the scenario's own evidence -------------------------------------------


@when("the daily checks run on the stage", target_fixture="stage_monitor")
@when("the alert rules are evaluated on the stage", target_fixture="stage_monitor")
def monitor_stage(world: World) -> StageMonitor:
    result = evaluate(stage_target(world))  # what `invoke monitor` shows for the stage
    return StageMonitor(result=result, own=own_monitor(world))


@then(parsers.parse('the daily check "{check}" on the stage covers the scenario\'s own rows:'))
def daily_check_covers(stage_monitor: StageMonitor, check: str, datatable: list[list[str]]) -> None:
    assert check in DAILY_CHECKS, f"no daily check {check!r}; the monitor has {list(DAILY_CHECKS)}"
    stage, own = stage_monitor.result.daily[check], stage_monitor.own["daily"][check]
    assert_covers(f"the daily check {check!r}", stage, own, datatable)


def stage_alert_rows(stage_monitor: StageMonitor, rule: str) -> list[dict[str, object]]:
    assert rule in RULES, f"no alert rule {rule!r}; the monitor has {list(RULES)}"
    [alert] = [alert for alert in stage_monitor.result.alerts if alert.rule == rule]
    return alert.rows


@then(parsers.re(r'the alert "(?P<rule>[a-z_0-9]+)" fires on the stage, naming the integration of "(?P<name>[^"]+)"$'))
def alert_names(world: World, stage_monitor: StageMonitor, rule: str, name: str) -> None:
    integration_id = integration(world, name)["id"]
    rows = stage_alert_rows(stage_monitor, rule)
    assert any(row.get("integration_id") == integration_id for row in rows), (
        f"expected {rule!r} to fire naming {name} ({integration_id}); it shows {rows[:10]}"
    )
    own = stage_monitor.own["alerts"][rule]
    assert [row["integration_id"] for row in own].count(integration_id) == 1, f"{rule!r} over own rows: {own}"


@then(parsers.re(r'the alert "(?P<rule>[a-z_0-9]+)" does not name the integration of "(?P<name>[^"]+)"$'))
def alert_does_not_name(world: World, stage_monitor: StageMonitor, rule: str, name: str) -> None:
    integration_id = integration(world, name)["id"]
    named = [row for row in stage_alert_rows(stage_monitor, rule) if row.get("integration_id") == integration_id]
    assert named == [], f"{rule!r} names {name}, which did not earn it: {named}"


@then(parsers.parse('the alert "{rule}" fires on the stage, covering the scenario\'s own rows:'))
def alert_covers(stage_monitor: StageMonitor, rule: str, datatable: list[list[str]]) -> None:
    stage = stage_alert_rows(stage_monitor, rule)
    assert stage, f"expected {rule!r} to fire on the stage"
    assert_covers(f"the alert {rule!r}", stage, stage_monitor.own["alerts"][rule], datatable)
