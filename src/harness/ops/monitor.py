"""`invoke monitor`: the checklist's Daily Checks as tables, and its alert rules evaluated.

Each rule is one SQL query over the service's tables (the pool rule reads the service's `/metrics`,
falling back to pg_stat_activity when the service cannot be reached). A rule fires when its query
returns a row; each row says what fired. Besides the checklist's seven, a sync stuck `running` (its
process died and nothing closed the run) fires an alert of its own: a run that never ends is neither
a success nor a failure, so no other rule would see it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from rich.table import Table

from harness.ops.common import Target

DAILY_CHECKS = {
    "sync status by integration": "SELECT integration_type, sync_status, COUNT(*) FROM integrations_credentials "
    "GROUP BY integration_type, sync_status ORDER BY 1, 2",
    "errors in the last 24 h": "SELECT integration_type, COUNT(*) as errors FROM integrations_sync_logs "
    "WHERE status = 'failed' AND created_at > NOW() - INTERVAL '24 hours' GROUP BY integration_type ORDER BY 1",
    "webhook processing in the last 24 h": "SELECT provider, outcome, COUNT(*), "
    "round(avg(extract(epoch FROM applied_at - received_at))::numeric * 1000) AS avg_ms FROM webhook_events "
    "WHERE received_at > NOW() - INTERVAL '24 hours' GROUP BY provider, outcome ORDER BY 1, 2",
}

STUCK_SYNC_MINUTES = 30.0  # a running sync refreshes its heartbeat with every page; 30 minutes without is stuck

RULES: dict[str, tuple[str, str]] = {
    "sync_failed_3_times": (
        "Integration sync fails 3 times in a row",
        "SELECT integration_id::text, integration_type, 3 AS failures FROM ("
        " SELECT integration_id, integration_type, status, row_number() OVER"
        " (PARTITION BY integration_id ORDER BY created_at DESC) AS n"
        " FROM integrations_sync_logs WHERE status NOT IN ('queued', 'running')) AS recent"
        " WHERE n <= 3 GROUP BY integration_id, integration_type"
        " HAVING count(*) = 3 AND bool_and(status = 'failed')",
    ),
    "sync_stuck_running": (
        f"Sync stuck running longer than {STUCK_SYNC_MINUTES:.0f} minutes (no progress)",
        "SELECT id::text AS sync_log_id, integration_id::text, integration_type, sync_type,"
        " round(extract(epoch FROM now() - coalesce(heartbeat_at, created_at)) / 60) AS minutes_without_progress"
        " FROM integrations_sync_logs WHERE status = 'running'"
        " AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => %(stuck_after_s)s)",
    ),
    "webhook_latency": (
        "Webhook processing latency > 5 seconds (last hour)",
        "SELECT provider, count(*) AS slow_events,"
        " round(max(extract(epoch FROM applied_at - received_at))::numeric, 1) AS max_s FROM webhook_events"
        " WHERE received_at > now() - interval '1 hour' AND applied_at - received_at > interval '5 seconds'"
        " GROUP BY provider",
    ),
    "database_pool": ("Database connection pool near its limit (≥ 80 %)", ""),  # evaluated by pool_rows()
    "rate_limits": (
        "Provider API rate limits exceeded (last 24 h)",
        "SELECT integration_type, count(*) AS rate_limited FROM integrations_sync_logs"
        " WHERE created_at > now() - interval '24 hours'"
        # 429, a message naming the rate limit, or an answer that asked to be retried later (MYOB: 403 + Retry-After)
        " AND (error_message ILIKE '%429%' OR error_message ILIKE '%rate%limit%'"
        " OR error_message ILIKE '%Retry-After%')"
        " GROUP BY integration_type",
    ),
    "token_refresh": (
        "Token refresh failing repeatedly (3+ in 24 h for one integration)",
        "SELECT integration_id::text, integration_type, count(*) AS failures FROM integrations_sync_logs"
        " WHERE created_at > now() - interval '24 hours' AND (error_message ILIKE '%token refresh failed%'"
        " OR error_message ILIKE '%no refresh token%') GROUP BY integration_id, integration_type"
        " HAVING count(*) >= 3",
    ),
    "payment_failures": (
        "Payment processing failures (last 24 h)",
        "SELECT 'stripe_payments' AS source, count(*) AS failures FROM stripe_payments"
        " WHERE status = 'failed' AND updated_at > now() - interval '24 hours' HAVING count(*) > 0"
        " UNION ALL SELECT 'paypal_payments', count(*) FROM paypal_payments"
        " WHERE lower(state) IN ('failed', 'denied') AND updated_at > now() - interval '24 hours' HAVING count(*) > 0"
        " UNION ALL SELECT 'payment syncs', count(*) FROM integrations_sync_logs"
        " WHERE status = 'failed' AND created_at > now() - interval '24 hours'"
        " AND integration_type IN ('STRIPE', 'PAYPAL') AND sync_type NOT ILIKE '%subscription%' HAVING count(*) > 0",
    ),
    "subscription_sync_failures": (
        "Subscription sync failures (last 24 h)",
        "SELECT integration_type, count(*) AS failures FROM integrations_sync_logs"
        " WHERE status = 'failed' AND created_at > now() - interval '24 hours'"
        " AND sync_type ILIKE '%subscription%' GROUP BY integration_type",
    ),
}
POOL_THRESHOLD = 0.8


@dataclass
class Alert:
    rule: str
    description: str
    firing: bool
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MonitorResult:
    daily: dict[str, list[dict[str, Any]]]
    alerts: list[Alert]

    @property
    def firing(self) -> list[str]:
        return [alert.rule for alert in self.alerts if alert.firing]

    def as_json(self) -> dict[str, Any]:
        return {"daily": self.daily, "alerts": [asdict(alert) for alert in self.alerts], "firing": self.firing}


def evaluate(target: Target, stuck_sync_minutes: float = STUCK_SYNC_MINUTES) -> MonitorResult:
    """Every daily check and alert rule; `stuck_sync_minutes` is how long without progress a run is stuck."""
    parameters = {"stuck_after_s": stuck_sync_minutes * 60}
    with psycopg.connect(target.database_url, row_factory=dict_row) as connection:
        daily = {name: _rows(connection, query) for name, query in DAILY_CHECKS.items()}
        alerts = []
        for rule, (description, query) in RULES.items():
            if rule == "database_pool":
                rows = pool_rows(target, connection)
            else:
                rows = _rows(connection, query, parameters if "%(" in query else None)
            alerts.append(Alert(rule, description, bool(rows), rows))
    return MonitorResult(daily, alerts)


def _rows(
    connection: psycopg.Connection[dict[str, Any]], query: str, parameters: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    found = connection.execute(query, parameters).fetchall()
    return [{key: _plain(value) for key, value in row.items()} for row in found]


def _plain(value: object) -> object:
    return value if isinstance(value, str | int | float | type(None)) else str(value)


def parse_pool(metrics_text: str) -> tuple[float, float] | None:
    values = {}
    for name in ("integration_db_pool_in_use", "integration_db_pool_size"):
        found = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", metrics_text, re.MULTILINE)
        if found is None:
            return None
        values[name] = float(found.group(1))
    return values["integration_db_pool_in_use"], values["integration_db_pool_size"]


def pool_rows(target: Target, connection: psycopg.Connection[dict[str, Any]]) -> list[dict[str, Any]]:
    """From the service's /metrics; without it, this database's connections against the pool capacity."""
    usage: tuple[float, float] | None = None
    source = "metrics"
    if target.service_url:
        try:
            usage = parse_pool(httpx.get(f"{target.service_url}/metrics", timeout=5, verify=target.verify).text)
        except httpx.HTTPError:
            usage = None
    if usage is None:
        source = "pg_stat_activity"
        row = connection.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
        usage = (float(row["n"]) if row else 0.0, float(target.pool_capacity))
    in_use, size = usage
    if size > 0 and in_use / size >= POOL_THRESHOLD:
        return [{"source": source, "in_use": in_use, "capacity": size}]
    return []


def show(target: Target, result: MonitorResult) -> None:
    for name, rows in result.daily.items():
        target.console.print(_table(name, rows))
    alerts = Table(title="Alert rules")
    for column in ("rule", "state", "what fired"):
        alerts.add_column(column)
    for alert in result.alerts:
        state = "[bold red]FIRING[/]" if alert.firing else "[green]ok[/]"
        alerts.add_row(
            alert.description, state, "; ".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in alert.rows)[:200]
        )
    target.console.print(alerts)


def _table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    columns = list(rows[0]) if rows else ["(no rows)"]
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[column]) for column in columns))
    return table
