"""`invoke bench`'s arithmetic and where its figures go: medians, per-round ratios and their spread, the
ratio thresholds' figures, the markdown table and the release report's "Performance against the bare stack"."""

from __future__ import annotations

import json
from pathlib import Path

from harness.gates.bench_results import BenchResults, Spread, markdown, read_bench, summarize_mode, write_bench
from harness.gates.load import LoadRun, summarize
from harness.gates.load_results import LoadResults
from harness.report.release import build_report, collect_bare_stack, write_report
from load.thresholds import judge, table_from_document


def figures(rps: float, p50: float, p95: float, p99: float, failures: int = 0) -> dict[str, float]:
    return {"requests": 100, "failures": failures, "rps": rps, "p50": p50, "p95": p95, "p99": p99}


def bench_of(service_p95: tuple[float, float, float]) -> BenchResults:
    saturation = [
        {"order": ["service", "ceiling"], "service": figures(200, 50, 90, 120), "ceiling": figures(1000, 5, 9, 12)},
        {"order": ["ceiling", "service"], "service": figures(250, 40, 80, 100), "ceiling": figures(1250, 4, 8, 10)},
        {"order": ["service", "ceiling"], "service": figures(300, 45, 85, 110), "ceiling": figures(1000, 5, 9, 11)},
    ]
    model = [
        {"order": ["service", "ceiling"], "service": figures(33, 7, p95, 150), "ceiling": figures(33, 2, 20, 30)}
        for p95 in service_p95
    ]
    return BenchResults(
        integrations=10,
        rounds={"saturation": saturation, "model": model},
        summaries={
            "saturation": summarize_mode("saturation", 50, (0, 0), saturation),
            "model": summarize_mode("model", 100, (2, 4), model),
        },
    )


def test_medians_per_side_and_the_ratio_per_round_with_its_spread() -> None:
    saturation = bench_of((40, 40, 40)).summaries["saturation"]
    assert saturation.service["rps"] == 250
    assert saturation.ceiling["rps"] == 1000
    # Per round: 0.2, 0.2, 0.3 -- the median of the rounds' ratios, not the ratio of the medians (0.25).
    assert saturation.ratios["rps"] == Spread(median=0.2, low=0.2, high=0.3)


def test_the_ratio_thresholds_judge_the_bench_and_fail_when_the_service_exceeds_the_ratio() -> None:
    table = table_from_document({"operations": {"integration list": {"thresholds": ["p95<=1.5x ceiling"]}}})
    slow = bench_of((60, 70, 50)).threshold_ratios()  # 3x, 3.5x, 2.5x the ceiling's 20 ms
    assert slow["integration list"]["p95"] == 3.0
    [verdict] = judge(table, {}, slow)
    assert not verdict.passed
    assert verdict.describe() == "integration list: p95<=1.5x ceiling (actual 3x)"
    [verdict] = judge(table, {}, bench_of((25, 30, 28)).threshold_ratios())  # 1.25x, 1.5x, 1.4x
    assert verdict.passed


def test_the_table_and_json_carry_both_sides_and_the_ratios(tmp_path: Path) -> None:
    results = bench_of((40, 40, 40))
    write_bench(results, tmp_path)
    text = (tmp_path / "bench.md").read_text()
    assert "| saturation | 50, no wait | rps (req/s) | 250 | 1000 | 0.20x (0.20-0.30) |" in text
    assert "| model | 100, wait 2-4 s | p95 (ms) | 40 | 20 | 2.00x (2.00-2.00) |" in text
    document = json.loads((tmp_path / "bench.json").read_text())
    assert document["summary"]["model"]["ratios"]["p95"] == {"median": 2.0, "low": 2.0, "high": 2.0}
    assert read_bench(tmp_path) == results  # what the load gate and the report read back
    assert markdown(results) == text


def test_the_release_report_shows_the_bare_stack_table_only_when_the_run_has_a_bench(tmp_path: Path) -> None:
    fields = {
        "stage": "local",
        "git_sha": "abc",
        "git_dirty": False,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
        "items": [],
        "gate_runs": [],
    }
    without = build_report(run_id="a", bare_stack=collect_bare_stack(tmp_path / "a"), **fields)  # type: ignore[arg-type]
    _, html = write_report(without, tmp_path / "a")
    assert "Performance against the bare stack" not in html.read_text()

    write_bench(bench_of((40, 40, 40)), tmp_path / "b" / "bench")
    report = build_report(run_id="b", bare_stack=collect_bare_stack(tmp_path / "b"), **fields)  # type: ignore[arg-type]
    json_path, html = write_report(report, tmp_path / "b")
    page = html.read_text()
    assert "Performance against the bare stack" in page
    assert "2.00x (2.00-2.00)" in page
    rows = json.loads(json_path.read_text())["bare_stack"]
    assert {(row["mode"], row["metric"]) for row in rows} == {
        ("saturation", "rps"),
        ("model", "p50"),
        ("model", "p95"),
        ("model", "p99"),
    }
    assert rows[0]["service"] == 250
    assert rows[0]["ceiling"] == 1000


def test_a_load_run_without_a_bench_says_which_ratios_it_did_not_judge(tmp_path: Path) -> None:
    document = {
        "profile": "gate",
        "kind": "steady",
        "users": 100,
        "workers": 0,
        "window_s": 85.0,
        "operations": {},
        "thresholds": [],
        "breaches": [],
        "unjudged": ["integration list: p95<=1.5x ceiling"],
    }
    outcome = LoadRun(0, tmp_path, LoadResults.from_json(document), {})
    assert outcome.passed
    assert "not judged (no ceiling measured in this run; LOAD_BENCH=1" in summarize(outcome)
    assert "integration list: p95<=1.5x ceiling" in summarize(outcome)
