"""k6-style thresholds: parsed from the one file, judged against a window's statistics (no Locust here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from load import thresholds
from load.profiles import load_profile, profile_names
from load.thresholds import OVERALL, ThresholdError, WindowStats, judge, load_table, table_from_document


def stats(requests: int = 100, failures: int = 0, p50: float = 10, p95: float = 20, p99: float = 30) -> WindowStats:
    return WindowStats(requests, failures, p50, p95, p95, p99, p50, p99)


def test_default_file_carries_the_checklist_targets() -> None:
    table = load_table()
    assert table.targets_ms == {
        "integration list": 100,
        "integration creation": 200,
        "sync 100 invoices": 5000,
        "webhook processing": 500,
        "database query": 50,
    }
    expressions = {(t.target, t.expression) for t in table.thresholds}
    assert ("integration list", "p95<200") in expressions
    assert ("sync 100 invoices", "p95<10000") in expressions
    assert {(OVERALL, "fail_rate<0.005"), (OVERALL, "p95<800"), (OVERALL, "p99<1200")} <= expressions


def test_a_breach_is_named_with_its_actual_value() -> None:
    table = table_from_document({"operations": {"integration list": {"thresholds": ["p95<200"]}}})
    [verdict] = judge(table, {"integration list": stats(p95=250)})
    assert not verdict.passed
    assert verdict.describe() == "integration list: p95<200 (actual 250)"


def test_fail_rate_and_overall() -> None:
    table = table_from_document({"overall": {"thresholds": ["fail_rate<0.005", "p99<=30"]}})
    assert [v.passed for v in judge(table, {OVERALL: stats(failures=1, requests=100)})] == [False, True]
    assert [v.passed for v in judge(table, {OVERALL: stats(failures=1, requests=1000)})] == [True, True]


def test_an_operation_never_measured_is_a_breach() -> None:
    table = table_from_document({"operations": {"sync 100 invoices": {"thresholds": ["p95<10000"]}}})
    [verdict] = judge(table, {})
    assert not verdict.passed
    assert "no requests" in verdict.describe()


@pytest.mark.parametrize("expression", ["p95 < ", "latency<3", "p95=3", "p95<fast"])
def test_unreadable_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ThresholdError, match="cannot read threshold"):
        table_from_document({"overall": {"thresholds": [expression]}})


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "t.toml"
    empty.write_text("")
    with pytest.raises(ThresholdError, match="no thresholds"):
        thresholds.load_table(empty)


def test_every_profile_loads_and_the_gate_is_about_two_minutes() -> None:
    assert set(profile_names()) == {"smoke", "gate", "full", "stress", "sync-burst", "staging"}
    profiles = {name: load_profile(name) for name in profile_names()}
    assert profiles["gate"].users == profiles["full"].users == 100
    assert 90 <= profiles["gate"].expected_duration_s <= 150
    assert profiles["full"].steady_s == 300
    assert profiles["stress"].steps > 1
    assert profiles["sync-burst"].kind == "burst"


def test_the_colocated_gate_keeps_every_checklist_number_and_drops_only_per_operation_tails() -> None:
    default = load_table()
    colocated = load_table(Path(__file__).resolve().parents[2] / "load" / "thresholds-colocated.toml")
    assert colocated.targets_ms == default.targets_ms
    kept = {(t.target, t.expression) for t in colocated.thresholds}
    dropped = {(t.target, t.expression) for t in default.thresholds} - kept
    assert {expression.split("<")[0] for _, expression in dropped} == {"p95"}  # nothing but per-operation p95s
    assert all(target != OVERALL for target, _ in dropped)
    assert {(operation, f"p50<{target:g}") for operation, target in default.targets_ms.items()} <= kept
