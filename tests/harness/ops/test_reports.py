"""report weekly|monthly: every section is there and computed from the data; pip-audit degrades to unknown."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.core.database import create_database, drop_database
from harness.ops.common import OpsError, Target
from harness.ops.periodic_checks import MONTHLY, WEEKLY, audit, build_report, token_refresh_rate
from integration_service.db import migrations

Sql = psycopg.Connection[tuple[object, ...]]
FAILING_AUDIT = [
    sys.executable,
    "-c",
    "import sys; sys.stderr.write('ConnectionError: https://pypi.org/pypi unreachable\\n'); sys.exit(1)",
]
METRICS = (
    "# HELP integration_token_refreshes_total OAuth token refreshes by result\n"
    "# TYPE integration_token_refreshes_total counter\n"
    'integration_token_refreshes_total{result="success"} 9.0\n'
    'integration_token_refreshes_total{result="failure"} 1.0\n'
)


def _integration(sql: Sql, kind: str, *, active: bool = True, status: str = "IDLE") -> tuple[object, object]:
    user = sql.execute("INSERT INTO users (name) VALUES (%s) RETURNING id", [uuid.uuid4().hex]).fetchone()
    assert user is not None
    row = sql.execute(
        "INSERT INTO integrations_credentials (user_id, integration_type, integration_name, is_active, sync_status)"
        " VALUES (%s, %s, 'x', %s, %s) RETURNING id",
        [user[0], kind, active, status],
    ).fetchone()
    assert row is not None
    return row[0], user[0]


def _log(
    sql: Sql,
    owner: tuple[object, object],
    kind: str,
    status: str,
    *,
    error: str | None = None,
    days_ago: float = 0,
    records: int = 0,
    duration_ms: int | None = None,
) -> None:
    sql.execute(
        "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status,"
        " error_message, synced_records, duration_ms, created_at)"
        " VALUES (%s, %s, %s, 'invoices', %s, %s, %s, %s, now() - make_interval(secs => %s))",
        [owner[0], owner[1], kind, status, error, records, duration_ms, days_ago * 86400],
    )


def construct(sql: Sql) -> None:
    xero = _integration(sql, "XERO")
    xero_two = _integration(sql, "XERO", status="SYNCING")
    myob = _integration(sql, "MYOB", status="ERROR")
    _integration(sql, "QUICKBOOKS", active=False)
    for _ in range(3):
        _log(sql, xero, "XERO", "failed", error="HTTP 500 from the Xero API")
    _log(sql, xero_two, "XERO", "failed", error="token refresh failed: invalid_grant; reconnect the integration")
    _log(sql, xero_two, "XERO", "failed", error="the access token expired and there is no refresh token")
    _log(sql, myob, "MYOB", "partial", error="HTTP 429 (Retry-After 60 s): rate limit exceeded")
    _log(sql, xero, "XERO", "success", records=10, duration_ms=100)
    _log(sql, xero_two, "XERO", "success", records=5, duration_ms=300)
    _log(sql, myob, "MYOB", "failed", error="an old error", days_ago=10, records=0, duration_ms=1000)
    _log(sql, myob, "MYOB", "success", days_ago=10, records=7, duration_ms=500)
    _log(sql, myob, "MYOB", "success", days_ago=40, records=1000, duration_ms=9999)  # older than any period


@pytest.fixture(scope="module")
def report_database(database_server_url: str) -> Iterator[str]:
    name = f"report_{uuid.uuid4().hex[:10]}"
    url = create_database(database_server_url, name)
    migrations.upgrade(url)
    with psycopg.connect(url, autocommit=True) as sql:
        construct(sql)
    yield url
    drop_database(database_server_url, name)


def report(database_url: str, period: str) -> dict[str, Any]:
    target = Target(stage="local", database_url=database_url)
    return build_report(target, period, audit_command=FAILING_AUDIT, metrics_text=METRICS)


@pytest.mark.db
def test_the_weekly_report_computes_each_section_from_the_last_seven_days(report_database: str) -> None:
    weekly = report(report_database, "weekly")
    sections = weekly["sections"]
    assert list(sections) == list(WEEKLY)
    assert sections["sync-log error patterns (7 days)"][0] == {
        "integration_type": "XERO",
        "error": "HTTP 500 from the Xero API",
        "count": 3,
    }
    errors = {(row["integration_type"], row["error"]) for row in sections["sync-log error patterns (7 days)"]}
    assert ("MYOB", "HTTP 429 (Retry-After 60 s): rate limit exceeded") in errors  # partial runs count
    assert not any(error == "an old error" for _, error in errors)  # 10 days ago: not this week
    assert sections["token refresh success rate (7 days)"] == [
        {"integration_type": "MYOB", "refresh_failures": 0, "syncs": 1},
        {"integration_type": "XERO", "refresh_failures": 2, "syncs": 7},
    ]
    assert sections["rate-limit hits (7 days)"] == [{"integration_type": "MYOB", "hits": 1}]
    assert sections["integrations operational"] == [
        {"integration_type": "MYOB", "operational": 0, "total": 1},
        {"integration_type": "QUICKBOOKS", "operational": 0, "total": 1},
        {"integration_type": "XERO", "operational": 2, "total": 2},
    ]
    assert weekly["token_refresh"]["success_rate"] == 0.9
    assert weekly["vulnerabilities"]["status"] == "unknown"


@pytest.mark.db
def test_the_monthly_report_adds_usage_and_performance_trends(report_database: str) -> None:
    monthly = report(report_database, "monthly")
    sections = monthly["sections"]
    assert list(sections) == [*WEEKLY, *MONTHLY]
    usage = {row["integration_type"]: row for row in sections["usage statistics (30 days)"]}
    assert usage["XERO"] == {"integration_type": "XERO", "users": 2, "syncs": 7, "records": 15}
    assert usage["MYOB"] == {"integration_type": "MYOB", "users": 1, "syncs": 3, "records": 7}  # not the 40-day one
    trend = sections["sync performance trend (weekly, 30 days)"]
    xero = [row for row in trend if row["integration_type"] == "XERO"]
    assert len(xero) == 1
    assert (xero[0]["syncs"], xero[0]["avg_ms"], xero[0]["p95_ms"]) == (2, "200", "290")
    myob = [row for row in trend if row["integration_type"] == "MYOB"]
    assert sum(row["syncs"] for row in myob) == 2  # the 10-day-old runs; the 40-day-old one is out of range
    assert all(row["p95_ms"] != "9999" for row in myob)


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(OpsError, match="unknown period 'daily'"):
        build_report(Target(stage="local", database_url="postgresql://unused/none"), "daily")


def test_the_refresh_success_rate_comes_from_the_service_counter() -> None:
    target = Target(stage="local", database_url="")
    assert token_refresh_rate(target, METRICS) == {
        "status": "known",
        "source": "service /metrics (since it started)",
        "succeeded": 9,
        "failed": 1,
        "success_rate": 0.9,
    }
    assert token_refresh_rate(target, "integration_db_pool_in_use 1.0\n")["status"] == "unknown"
    assert token_refresh_rate(target)["note"].startswith("no service URL")
    unreachable = Target(stage="local", database_url="", service_url="http://127.0.0.1:9")
    assert "did not answer" in token_refresh_rate(unreachable)["note"]


def test_pip_audit_is_unknown_when_its_database_cannot_be_reached() -> None:
    result = audit(60, FAILING_AUDIT)
    assert result["status"] == "unknown"
    assert "could not be reached: ConnectionError: https://pypi.org/pypi unreachable" in result["note"]


def test_pip_audit_is_unknown_when_it_does_not_answer_in_time() -> None:
    result = audit(0.5, [sys.executable, "-c", "import time; time.sleep(30)"])
    assert result["status"] == "unknown"
    assert "pip-audit did not answer within" in result["note"]


def test_pip_audit_is_unknown_when_it_cannot_run(tmp_path: Path) -> None:
    result = audit(60, [str(tmp_path / "no-such-pip-audit")])
    assert result["status"] == "unknown"
    assert "could not be run" in result["note"]


def _fake_audit(found: dict[str, Any]) -> list[str]:
    return [sys.executable, "-c", f"print({json.dumps(json.dumps(found))})"]


def test_pip_audit_findings_fail_and_a_clean_audit_passes() -> None:
    vulnerable = {
        "dependencies": [
            {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"]}]},
            {"name": "httpx", "version": "0.28.1", "vulns": []},
        ],
        "fixes": [],
    }
    assert audit(60, _fake_audit(vulnerable)) == {
        "status": "failed",
        "vulnerable": [{"name": "jinja2", "version": "3.1.2", "ids": ["GHSA-h5c8-rqwp-cp95"]}],
    }
    assert audit(60, _fake_audit({"dependencies": [{"name": "httpx", "version": "0.28.1", "vulns": []}]})) == {
        "status": "passed",
        "vulnerable": [],
    }
    assert audit(60, _fake_audit({"unexpected": True}))["status"] == "unknown"  # not pip-audit's answer


def test_pip_audit_that_could_look_nothing_up_is_unknown_not_passed() -> None:
    skip = "Dependency not found on PyPI and could not be audited"
    found = {"dependencies": [{"name": name, "version": "1.0", "skip_reason": skip} for name in ("httpx", "jinja2")]}
    result = audit(60, _fake_audit(found))
    assert result["status"] == "unknown"
    assert result["note"] == f"pip-audit audited none of 2 dependencies ({skip})"
