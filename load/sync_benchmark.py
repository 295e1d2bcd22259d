"""Time a full Xero invoice sync through the real stack, and count its SQL statements.

    uv run python load/sync_benchmark.py --invoices 10000

Starts its own stack (embedded PostgreSQL, the sandbox seeded with N invoices, the service), connects
a Xero integration through the OAuth flow, runs a full sync and an incremental one, and prints the
figures. Statements should grow with pages (100 invoices each), never with invoices.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from harness.core.paths import PROJECT_ROOT
from harness.stack.local import LocalStack
from harness.stack.oauth import connect_via_oauth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="full syncs to time (the median is reported)")
    options = parser.parse_args()

    stack = LocalStack(
        state_dir=Path(tempfile.mkdtemp(prefix="sync-benchmark-")),
        database_name=f"bench_{uuid.uuid4().hex[:8]}",
        sandbox_env={
            "SANDBOX_SEED_INVOICES": str(options.invoices),
            # Lifted: one organisation's 100+ pages a run would otherwise time Xero's 60-calls-a-minute
            # budget (the service waiting out 429s), not the service's sync.
            "SANDBOX_XERO_MINUTE_LIMIT": "1000000",
            "SANDBOX_XERO_DAY_LIMIT": "1000000000",
        },
        service_env={"SYNC_WAIT_S": "120"},  # a slow (shared) machine must not turn the answer into a 202
        data_dir=PROJECT_ROOT / ".stack" / "pgdata-bench",  # inside the project, like `invoke up`'s
    )
    info = stack.start()
    try:
        token = stack.issue_token("benchmark")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=info.service_url, headers=headers, timeout=600) as api, httpx.Client() as browser:
            integration = connect_via_oauth(api, browser, "xero")
            runs = []
            for _ in range(options.runs):
                started = time.perf_counter()
                body = {"integrationId": integration["id"], "dataType": "invoices", "fullResync": True}
                result = api.post("/api/integrations/sync", json=body).json()["result"]
                runs.append((time.perf_counter() - started, result))
            incremental = api.post(
                "/api/integrations/sync", json={"integrationId": integration["id"], "dataType": "invoices"}
            ).json()["result"]
        seconds = sorted(duration for duration, _ in runs)
        last = runs[-1][1]
        report = {
            "invoices": options.invoices,
            "full_sync_seconds": [round(value, 2) for value in seconds],
            "engine_seconds": sorted(result["duration"] / 1000 for _, result in runs),
            "sql_statements_per_run": [result["sqlStatements"] for _, result in runs],
            "median_seconds": round(seconds[len(seconds) // 2], 2),
            "invoices_per_second": round(options.invoices / seconds[len(seconds) // 2]),
            "synced_records": last["syncedRecords"],
            "sql_statements": last["sqlStatements"],
            "pages": -(-options.invoices // 100),
            "incremental_total_records": incremental["totalRecords"],
            "incremental_sql_statements": incremental["sqlStatements"],
        }
        print(json.dumps(report, indent=2))  # noqa: T201 - this script's output is its report
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
