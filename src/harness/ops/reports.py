"""`invoke report weekly|monthly`: the checklist's weekly and monthly checks, from SQL and pip-audit.

pip-audit needs its vulnerability database (the internet): it runs with a time bound, and when it
cannot answer the result is `unknown` with the reason, never `passed`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import psycopg
from psycopg.rows import dict_row

from harness.ops.common import Target

WEEKLY = {
    "sync-log error patterns (7 days)": "SELECT integration_type, left(error_message, 80) AS error, count(*) "
    "FROM integrations_sync_logs WHERE status IN ('failed', 'partial') AND created_at > now() - interval '7 days' "
    "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20",
    "token refresh success rate (7 days)": "SELECT integration_type, count(*) FILTER (WHERE error_message ILIKE "
    "'%token refresh failed%') AS refresh_failures, count(*) AS syncs FROM integrations_sync_logs "
    "WHERE created_at > now() - interval '7 days' GROUP BY 1 ORDER BY 1",
    "rate-limit hits (7 days)": "SELECT integration_type, count(*) AS hits FROM integrations_sync_logs "
    "WHERE created_at > now() - interval '7 days' AND (error_message ILIKE '%429%' OR error_message ILIKE "
    "'%rate%limit%') GROUP BY 1 ORDER BY 1",
    "integrations operational": "SELECT integration_type, count(*) FILTER (WHERE is_active AND sync_status <> "
    "'ERROR') AS operational, count(*) AS total FROM integrations_credentials GROUP BY 1 ORDER BY 1",
}
MONTHLY = {
    "usage statistics (30 days)": "SELECT integration_type, count(DISTINCT user_id) AS users, count(*) AS syncs, "
    "sum(synced_records) AS records FROM integrations_sync_logs WHERE created_at > now() - interval '30 days' "
    "GROUP BY 1 ORDER BY 1",
    "sync performance trend (weekly, 30 days)": "SELECT date_trunc('week', created_at)::date::text AS week, "
    "integration_type, count(*) AS syncs, round(avg(duration_ms)) AS avg_ms, "
    "round((percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms))::numeric) AS p95_ms "
    "FROM integrations_sync_logs WHERE created_at > now() - interval '30 days' AND duration_ms IS NOT NULL "
    "GROUP BY 1, 2 ORDER BY 1, 2",
}
PIP_AUDIT_TIMEOUT_S = 60


def build_report(target: Target, period: str, *, audit_timeout_s: float = PIP_AUDIT_TIMEOUT_S) -> dict[str, Any]:
    queries = WEEKLY if period == "weekly" else {**WEEKLY, **MONTHLY}
    with psycopg.connect(target.database_url, row_factory=dict_row) as connection:
        sections = {
            name: [
                {k: v if isinstance(v, str | int | None) else str(v) for k, v in row.items()}
                for row in connection.execute(query).fetchall()
            ]
            for name, query in queries.items()
        }
    return {"period": period, "stage": target.stage, "sections": sections, "vulnerabilities": audit(audit_timeout_s)}


def audit(timeout_s: float, command: list[str] | None = None) -> dict[str, Any]:
    """pip-audit of the locked environment: `passed`, `failed` (with the findings) or `unknown` (why)."""
    command = command or [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"]
    try:
        ran = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "unknown", "note": f"pip-audit did not answer within {timeout_s:.0f} s (no network?)"}
    try:
        found = json.loads(ran.stdout)
    except json.JSONDecodeError:
        last = (ran.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return {"status": "unknown", "note": f"the vulnerability database could not be reached: {last}"}
    vulnerable = [
        {"name": dep["name"], "version": dep["version"], "ids": [v["id"] for v in dep.get("vulns", [])]}
        for dep in found.get("dependencies", [])
        if dep.get("vulns")
    ]
    return {"status": "failed" if vulnerable else "passed", "vulnerable": vulnerable}
