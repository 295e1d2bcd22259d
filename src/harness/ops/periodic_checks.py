"""`invoke report weekly|monthly`: the checklist's weekly and monthly checks, from SQL and pip-audit.

pip-audit needs its vulnerability database (the internet): it runs with a time bound, and when it
cannot answer the result is `unknown` with the reason, never `passed`.

Token refreshes: a failed one leaves its reason in the sync log (the SQL section, by integration type);
a successful one leaves no row, so the success rate comes from the service's Prometheus counter
`integration_token_refreshes_total{result=...}` (since the service started), or is `unknown` with why.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from harness.ops.common import OpsError, Target

WEEKLY = {
    "sync-log error patterns (7 days)": "SELECT integration_type, left(error_message, 80) AS error, count(*) "
    "FROM integrations_sync_logs WHERE status IN ('failed', 'partial') AND created_at > now() - interval '7 days' "
    "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20",
    "token refresh success rate (7 days)": "SELECT integration_type, count(*) FILTER (WHERE error_message ILIKE "
    "'%token refresh failed%' OR error_message ILIKE '%no refresh token%') AS refresh_failures, count(*) AS syncs "
    "FROM integrations_sync_logs "
    "WHERE created_at > now() - interval '7 days' GROUP BY 1 ORDER BY 1",
    "rate-limit hits (7 days)": "SELECT integration_type, count(*) AS hits FROM integrations_sync_logs "
    "WHERE created_at > now() - interval '7 days' AND (error_message ILIKE '%429%' OR error_message ILIKE "
    "'%rate%limit%' OR error_message ILIKE '%Retry-After%') GROUP BY 1 ORDER BY 1",
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
REFRESH_COUNTER = re.compile(
    r'^integration_token_refreshes_total\{[^}]*result="(\w+)"[^}]*\} ([0-9.eE+-]+)$', re.MULTILINE
)


def build_report(
    target: Target,
    period: str,
    *,
    audit_timeout_s: float = PIP_AUDIT_TIMEOUT_S,
    audit_command: list[str] | None = None,
    metrics_text: str | None = None,
) -> dict[str, Any]:
    if period not in ("weekly", "monthly"):
        raise OpsError(f"unknown period {period!r}: weekly or monthly")
    queries = WEEKLY if period == "weekly" else {**WEEKLY, **MONTHLY}
    with psycopg.connect(target.database_url, row_factory=dict_row) as connection:
        sections = {
            name: [
                {k: v if isinstance(v, str | int | None) else str(v) for k, v in row.items()}
                for row in connection.execute(query).fetchall()
            ]
            for name, query in queries.items()
        }
    return {
        "period": period,
        "stage": target.stage,
        "sections": sections,
        "token_refresh": token_refresh_rate(target, metrics_text),
        "vulnerabilities": audit(audit_timeout_s, audit_command),
    }


def token_refresh_rate(target: Target, metrics_text: str | None = None) -> dict[str, Any]:
    """Successful / all token refreshes, from the service's counter; `unknown` (with why) without it."""
    if metrics_text is None:
        if not target.service_url:
            return {"status": "unknown", "note": "no service URL for this stage: its /metrics cannot be read"}
        try:
            metrics_text = httpx.get(f"{target.service_url}/metrics", timeout=5, verify=target.verify).text
        except httpx.HTTPError as exc:
            return {"status": "unknown", "note": f"the service's /metrics did not answer: {type(exc).__name__}"}
    counts = {"success": 0.0, "failure": 0.0}
    found = False
    for result, value in REFRESH_COUNTER.findall(metrics_text):
        if result in counts:
            counts[result] += float(value)
            found = True
    if not found:
        return {"status": "unknown", "note": "the service's metrics have no integration_token_refreshes_total"}
    total = counts["success"] + counts["failure"]
    return {
        "status": "known",
        "source": "service /metrics (since it started)",
        "succeeded": int(counts["success"]),
        "failed": int(counts["failure"]),
        "success_rate": None if total == 0 else round(counts["success"] / total, 4),
    }


def audit(timeout_s: float, command: list[str] | None = None) -> dict[str, Any]:
    """pip-audit of the locked environment: `passed`, `failed` (with the findings) or `unknown` (why)."""
    command = command or [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"]
    try:
        ran = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "unknown", "note": f"pip-audit did not answer within {timeout_s:.0f} s (no network?)"}
    except OSError as exc:
        return {"status": "unknown", "note": f"pip-audit could not be run: {exc.strerror or exc}"}
    try:
        found = json.loads(ran.stdout)
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("dependencies"), list):
        last = (ran.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return {"status": "unknown", "note": f"the vulnerability database could not be reached: {last}"}
    dependencies = found["dependencies"]
    vulnerable = [
        {"name": dep["name"], "version": dep["version"], "ids": [v["id"] for v in dep.get("vulns", [])]}
        for dep in dependencies
        if dep.get("vulns")
    ]
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    if vulnerable:
        return {"status": "failed", "vulnerable": vulnerable}
    if dependencies and len(skipped) == len(dependencies):
        # pip-audit says "no known vulnerabilities" when it could look none up: that is not a pass.
        reason = str(skipped[0]["skip_reason"])[:200]
        return {"status": "unknown", "note": f"pip-audit audited none of {len(dependencies)} dependencies ({reason})"}
    audited = {"status": "passed", "vulnerable": vulnerable}
    if skipped:
        audited["note"] = f"{len(skipped)} of {len(dependencies)} dependencies could not be audited"
    return audited
