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
    burst = profiles["sync-burst"]
    assert burst.kind == "burst"
    assert burst.syncing_users == 100  # the checklist's `ab -n 100`, with other users listing meanwhile
    assert burst.bystanders > 0


def test_the_sync_burst_is_judged_by_its_own_thresholds() -> None:
    burst = load_table(Path(__file__).resolve().parents[2] / "load" / load_profile("sync-burst").thresholds)
    judged = {threshold.target for threshold in burst.thresholds}
    assert {"sync 100 invoices", "integration list (other users, during the burst)"} <= judged
    assert any(t.expression == "requests>=100" for t in burst.thresholds if t.target == "sync 100 invoices")


def test_the_colocated_gate_keeps_every_checklist_number_and_drops_only_per_operation_tails() -> None:
    default = load_table()
    colocated = load_table(Path(__file__).resolve().parents[2] / "load" / "thresholds-colocated.toml")
    assert colocated.targets_ms == default.targets_ms
    kept = {(t.target, t.expression) for t in colocated.thresholds}
    dropped = {(t.target, t.expression) for t in default.thresholds} - kept
    assert {expression.split("<")[0] for _, expression in dropped} == {"p95"}  # nothing but per-operation p95s
    assert all(target != OVERALL for target, _ in dropped)
    assert {(operation, f"p50<{target:g}") for operation, target in default.targets_ms.items()} <= kept


LIST_RATIOS = {
    "operations": {"integration list": {"thresholds": ["p50<100", "p95 <= 1.5x ceiling", "rps>=0.7x ceiling"]}}
}


def test_a_ratio_to_the_ceiling_fails_when_the_service_exceeds_it_and_holds_within() -> None:
    table = table_from_document(LIST_RATIOS)
    window = {"integration list": stats(p50=10)}
    slow = judge(table, window, {"integration list": {"p95": 1.6, "rps": 0.71}})
    assert [(v.expression, v.passed) for v in slow] == [
        ("p50<100", True),
        ("p95<=1.5x ceiling", False),
        ("rps>=0.7x ceiling", True),
    ]
    assert slow[1].describe() == "integration list: p95<=1.5x ceiling (actual 1.6x)"
    within = judge(table, window, {"integration list": {"p95": 1.5, "rps": 0.69}})
    assert [v.passed for v in within] == [True, True, False]


def test_ratios_without_a_ceiling_are_listed_as_not_judged_never_as_held() -> None:
    table = table_from_document(LIST_RATIOS)
    verdicts = judge(table, {"integration list": stats()})
    assert [v.expression for v in verdicts] == ["p50<100"]
    assert thresholds.unjudged(table, None) == [
        "integration list: p95<=1.5x ceiling",
        "integration list: rps>=0.7x ceiling",
    ]
    assert thresholds.unjudged(table, {}) == []
    # A ceiling was measured, but not for this figure: a breach, not a pass.
    missing = judge(table, {"integration list": stats()}, {"integration list": {"rps": 1.0}})
    assert [v.passed for v in missing] == [True, False, True]
    assert "no ceiling ratio measured" in missing[1].describe()


@pytest.mark.parametrize("expression", ["p95 <= 1.5xceiling", "fail_rate<2x ceiling", "p95<=0x ceiling", "rps>0.7x"])
def test_unreadable_ratio_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ThresholdError, match="cannot read threshold"):
        table_from_document({"overall": {"thresholds": [expression]}})
