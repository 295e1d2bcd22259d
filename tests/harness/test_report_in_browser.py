"""The HTML report opened in a real headless browser (Chromium): it renders, every section is there, and
a screenshot is taken (kept in the test's folder). Skipped, saying so, where no Chromium is installed
(`apt-get install chromium` on Debian)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.core.checklist import load_checklist
from harness.gates.base import GateRun
from harness.gates.load_results import Benchmark
from harness.gates.scenario_results import ScenarioOutcome, StepOutcome
from harness.report.release import build_report, write_report

BROWSER = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
)
SECTIONS = ("Gates", "Benchmarks", "Resources under load", "Checklist")

# CI installs Chromium (.ci/run): there a missing browser is a failure, not a skip.
# e2e: starts a Chromium browser of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        BROWSER is None and not os.environ.get("CI"), reason="no Chromium on this machine (apt-get install chromium)"
    ),
]


def sample_report_html(tmp_path: Path) -> Path:
    failing = ScenarioOutcome(
        feature="stripe_integration.feature",
        name="A replayed Stripe event is refused",
        tags=("STRIPE-04", "local"),
        status="failed",
        steps=(
            StepOutcome("Given a Stripe event signed an hour ago", "passed"),
            StepOutcome("Then it is refused", "failed"),
        ),
        failure="AssertionError: expected 400, got 200",
    )
    runs = [
        GateRun("pytest", "passed", 300.0, "641 tests: 641 passed", ("CQ-01",)),
        GateRun("scenarios", "failed", 120.0, "1 failed", scenarios=(failing,)),
    ]
    benchmarks = [
        Benchmark("integration list", 100, 21, 88, 140, "passed"),
        Benchmark("webhook processing", 500, 15, 33, 39, "passed"),
    ]
    samples = [
        {"elapsed_s": float(t), "service_rss_mb": 200.0 + t, "service_cpu_percent": 50.0 + t % 7, "db_connections": 8.0}
        for t in range(0, 60, 2)
    ]
    summary = {
        "service_rss_mb_peak": 258.0,
        "service_cpu_percent_avg": 53.0,
        "service_cpu_percent_peak": 56.0,
        "cpu_cores": 2,
        "db_connections_peak": 8,
        "service_db_connections_peak": 6,
        "pool_limit": 20,
        "samples": len(samples),
    }
    report = build_report(
        run_id="20261125T000000Z-abc",
        stage="local",
        git_sha="abc",
        git_dirty=False,
        started_at="2026-11-25T00:00:00+00:00",
        finished_at="2026-11-25T00:10:00+00:00",
        items=load_checklist(),
        gate_runs=runs,
        benchmarks=benchmarks,
        resources={"summary": summary, "samples": samples},
    )
    return write_report(report, tmp_path / "run")[1]


def test_the_report_renders_in_chromium_with_every_section(tmp_path: Path) -> None:
    assert BROWSER is not None, "no Chromium on this CI machine: .ci/run installs it (apt-get install chromium)"
    html = sample_report_html(tmp_path)
    screenshot = tmp_path / "release-report.png"
    flags = [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    url = html.resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--window-size=1280,2400", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    for section in SECTIONS:
        assert f">{section}</h2>" in dom, f"section {section!r} did not render"
    assert 'id="latency-chart"' in dom
    assert 'id="resources-chart"' in dom
    assert "expected 400, got 200" in dom  # a failing scenario's assertion is shown, not hidden
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
