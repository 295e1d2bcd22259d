"""`invoke bench` end to end, tiny (seconds per side): the service and the ceiling on one stack, both measured.

Timings are not asserted: only that both sides were measured, and the table and the JSON carry the ratios.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.gates.base import GateContext
from harness.gates.bench import BenchConfig, bench_stack
from harness.gates.perf import LoadGate
from harness.report.release import collect_bare_stack

ROOT = Path(__file__).resolve().parents[2]

# e2e: starts the service, the ceiling and Locust runs of its own.
pytestmark = [pytest.mark.db, pytest.mark.e2e]


def test_the_ceiling_answers_the_services_list_in_the_same_shape(tmp_path: Path) -> None:
    with bench_stack(BenchConfig(integrations=3), tmp_path) as targets:
        service = httpx.get(
            f"{targets.urls['service']}/api/integrations", headers={"Authorization": f"Bearer {targets.token}"}
        ).json()
        ceiling = httpx.get(f"{targets.urls['ceiling']}/api/integrations").json()
    assert service["total"] == ceiling["total"] == 3
    assert (ceiling["limit"], ceiling["offset"]) == (service["limit"], service["offset"])
    assert [row["id"] for row in ceiling["integrations"]] == [row["id"] for row in service["integrations"]]
    assert [set(row) for row in ceiling["integrations"]] == [set(row) for row in service["integrations"]]
    assert [row["integrationName"] for row in ceiling["integrations"]] == ["bench-0", "bench-1", "bench-2"]


def test_a_tiny_bench_measures_both_sides_and_writes_the_ratios(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "invoke", "bench", "--rounds", "2", "--users", "4", "--model-users", "6"]
    command += ["--seconds", "2", "--warmup", "1", "--integrations", "4"]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    folder = Path(completed.stderr.rsplit("Report: ", 1)[-1].strip())
    document = json.loads((folder / "bench.json").read_text())
    assert document["integrations"] == 4
    for mode in ("saturation", "model"):
        rounds = document["rounds"][mode]
        assert [entry["order"] for entry in rounds] == [["service", "ceiling"], ["ceiling", "service"]]
        for entry in rounds:
            for side in ("service", "ceiling"):
                assert entry[side]["requests"] > 0, (mode, side)
                assert entry[side]["failures"] == 0, (mode, side)
        summary = document["summary"][mode]
        assert summary["service"]["p95"] > 0
        assert summary["ceiling"]["p95"] > 0
        ratio = summary["ratios"]["p95"]
        assert ratio["low"] <= ratio["median"] <= ratio["high"]
    assert document["summary"]["saturation"]["ratios"]["rps"]["median"] > 0
    table = (folder / "bench.md").read_text()
    assert "| saturation | 4, no wait | rps (req/s) |" in table
    assert "| model | 6, wait 2-4 s | p95 (ms) |" in table
    assert table in completed.stderr.replace("\r", "")


def test_the_load_gate_judges_ratio_thresholds_against_the_bench_of_its_run(tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.toml"
    # No service answers in a hundredth of the bare stack's time; every service answers within 1000 times it.
    thresholds.write_text(
        '[operations."integration list"]\ntarget_ms = 100\n'
        'thresholds = ["fail_rate<0.01", "p95<=0.01x ceiling", "p50<=1000x ceiling"]\n'
    )
    tiny = BenchConfig(rounds=1, saturation_users=3, saturation_s=2, model_users=4, model_s=3, warmup_s=1)
    gate = LoadGate(profile="smoke", thresholds=thresholds, bench=tiny)
    run_dir = tmp_path / "run"
    result = gate.run(GateContext(stage="local", run_dir=run_dir, project_root=ROOT))
    assert result.status == "failed", result.detail
    verdicts = {
        v["expression"]: v for v in json.loads((run_dir / "load" / "load-results.json").read_text())["thresholds"]
    }
    assert not verdicts["p95<=0.01x ceiling"]["passed"]
    assert verdicts["p95<=0.01x ceiling"]["actual"] > 0.01
    assert verdicts["p50<=1000x ceiling"]["passed"]
    assert "THRESHOLD BREACHED: integration list: p95<=0.01x ceiling (actual" in result.detail
    assert run_dir / "bench" / "bench.json" in result.evidence
    assert collect_bare_stack(run_dir)  # the release report's table
