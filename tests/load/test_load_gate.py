"""`invoke load` end to end, as a subprocess (Locust patches the standard library: never in pytest).

The smoke profile keeps these short; the thresholds have the shape of load/thresholds.toml.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THRESHOLDS = """
[operations."integration list"]
target_ms = 100
thresholds = ["p95<3000", "fail_rate<0.01"]
[operations."integration creation"]
target_ms = 200
thresholds = ["p95<3000", "fail_rate<0.01"]
[operations."sync 100 invoices"]
target_ms = 5000
thresholds = ["p95<2500", "fail_rate<0.01"]
[operations."webhook processing"]
target_ms = 500
thresholds = ["p95<3000", "fail_rate<0.01"]
[operations."database query"]
target_ms = 50
thresholds = ["p95<3000", "fail_rate<0.01"]
[overall]
thresholds = ["fail_rate<0.01"]
"""
# Every Xero invoice page takes 4 s longer: the sync breaches its threshold, nothing else does.
SLOW_XERO = '{"provider": "xero", "kind": "delay", "delay_ms": 4000, "times": null, "path": "Invoices"}'

# e2e: starts a stack and Locust runs of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = [pytest.mark.db, pytest.mark.e2e]


def invoke_load(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text(THRESHOLDS)
    command = [sys.executable, "-m", "invoke", "load", "--profile", "smoke", "--thresholds", str(thresholds), *extra]
    completed = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = completed.stderr.rsplit("Report: ", 1)[-1].strip()
    return completed, Path(report)


def test_smoke_profile_passes_and_writes_its_evidence(tmp_path: Path) -> None:
    completed, report = invoke_load(tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((report / "load-results.json").read_text())
    assert results["breaches"] == []
    for operation in ("integration list", "integration creation", "sync 100 invoices", "webhook processing"):
        assert results["operations"][operation]["requests"] > 0, operation
        assert results["operations"][operation]["failures"] == 0, operation
    assert results["operations"]["database query"]["requests"] > 0
    assert not any(name.startswith("setup: ") for name in results["operations"])  # setup is not measured
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust.html", "resources.csv", "benchmarks.json"):
        assert (report / name).exists(), name
    rows = (report / "resources.csv").read_text().splitlines()
    assert len(rows) > 3
    peak_rss = max(float(row.split(",")[2]) for row in rows[1:])
    assert peak_rss > 20  # MB: the service process was really sampled
    assert len(json.loads((report / "benchmarks.json").read_text())) == 5
    assert "sk_test_" not in completed.stderr
    assert "whsec_" not in "".join(path.read_text(errors="replace") for path in report.iterdir() if path.is_file())


def test_a_slow_route_fails_the_run_naming_the_breached_threshold(tmp_path: Path) -> None:
    completed, report = invoke_load(tmp_path, "--sandbox-fault", SLOW_XERO)
    assert completed.returncode == 1, completed.stderr[-3000:]
    assert "THRESHOLD BREACHED: sync 100 invoices: p95<2500" in completed.stderr
    results = json.loads((report / "load-results.json").read_text())
    assert results["breaches"][0].startswith("sync 100 invoices: p95<2500 (actual ")
    assert not any(breach.startswith("integration list") for breach in results["breaches"])
