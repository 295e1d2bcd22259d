"""Steps on the load test's measurements, left by the release gate's load run: users, failure rates, response
times against the checklist's targets and thresholds, and the service's resources under load.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then

from harness.core.paths import PROJECT_ROOT
from load import thresholds
from steps.common import World

# --- load test measurements (left by the release gate's load run) --------------------------------------


COLOCATED_THRESHOLDS = PROJECT_ROOT / "load" / "thresholds-colocated.toml"


def load_dir(world: World) -> Path:
    return world.target.run_dir / "load"


@dataclass(frozen=True)
class LoadRun:
    """The load gate's results (load-results.json) and its resource samples' summary (empty: none taken)."""

    results: dict[str, Any]
    resources: dict[str, Any]


@given("the release gate's load test measurements", target_fixture="load_run")
def load_measurements(world: World) -> LoadRun:
    results = load_dir(world) / "load-results.json"
    if not results.exists():
        pytest.skip(f"the load gate did not run in this gate run (no {results}): nothing was measured to judge")
    summary = load_dir(world) / "resources-summary.json"
    return LoadRun(
        results=json.loads(results.read_text(encoding="utf-8")),
        resources=json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else {},
    )


def operation_stats(load_run: LoadRun, operation: str) -> dict[str, Any]:
    stats = load_run.results["operations"].get(operation)
    assert stats is not None, f"nothing was measured for {operation!r}: {sorted(load_run.results['operations'])}"
    assert stats["requests"] > 0, f"{operation!r} had no request in the measured window"
    return dict(stats)


@then(parsers.parse("the load test ran {users:d} concurrent users"))
def load_users(load_run: LoadRun, users: int) -> None:
    load = load_run.results
    assert load["users"] == users, f"expected {users} concurrent users, the load test ran {load['users']}"
    assert load["window_s"] > 0, f"the load test measured no window: {load['window_s']}"


@then(parsers.parse('"{operation}" was requested under load and failed in fewer than {percent:g} % of requests'))
def operation_fail_rate(load_run: LoadRun, operation: str, percent: float) -> None:
    stats = operation_stats(load_run, operation)
    assert stats["fail_rate"] < percent / 100, f"{operation!r} failed {100 * stats['fail_rate']:.2f} %: {stats}"


@then("response times were measured for every operation of the checklist's performance targets")
def every_target_measured(load_run: LoadRun) -> None:
    targets = tomllib.loads(COLOCATED_THRESHOLDS.read_text(encoding="utf-8"))["operations"]
    for operation in targets:
        stats = operation_stats(load_run, operation)
        # Locust rounds each time to whole milliseconds: a sub-millisecond query has a p50 of 0 on a quiet
        # machine (CI's did), so the percentiles must be there and the unrounded average above zero.
        percentiles = [stats.get(p) for p in ("p50", "p95", "p99")]
        assert all(isinstance(p, int | float) and p >= 0 for p in percentiles), f"{operation!r}: {stats}"
        assert stats["avg"] > 0, f"{operation!r} has no response times: {stats}"


@then("the database connections, memory and CPU of the service were sampled during the load test")
def resources_sampled(load_run: LoadRun) -> None:
    resources = load_run.resources
    assert resources.get("samples", 0) > 0, f"no resource samples were taken during the load test: {resources}"
    for figure in (
        "db_connections_peak",
        "service_db_connections_peak",
        "service_rss_mb_peak",
        "service_cpu_percent_avg",
    ):
        assert isinstance(resources.get(figure), int | float), f"{figure} was not recorded: {resources}"
    assert resources["service_rss_mb_peak"] > 0, f"no memory figure: {resources}"
    assert resources["db_connections_peak"] > 0, f"no database connection figure: {resources}"


@then("the service's database connections stayed within its connection pool's limit")
def pool_within_limit(load_run: LoadRun) -> None:
    resources = load_run.resources
    peak, limit = resources.get("service_db_connections_peak"), resources.get("pool_limit")
    assert isinstance(peak, int | float), f"the connection peak is missing: {resources}"
    assert isinstance(limit, int | float), f"the pool limit is missing: {resources}"
    assert peak <= limit, f"the service held {peak} database connections, its pool allows {limit}"


@then(parsers.parse("the service's memory stayed below {gigabytes:d} GB under load"))
def memory_bounded(load_run: LoadRun, gigabytes: int) -> None:
    peak = load_run.resources.get("service_rss_mb_peak")
    assert isinstance(peak, int | float), f"the memory peak is missing: {load_run.resources}"
    assert peak < gigabytes * 1024, f"the service's memory peaked at {peak} MB"


@then(parsers.parse('the release gate\'s thresholds hold "{operation}" to its checklist target of {target:d} ms'))
def thresholds_hold_target(load_run: LoadRun, operation: str, target: int) -> None:
    entry = tomllib.loads(COLOCATED_THRESHOLDS.read_text(encoding="utf-8"))["operations"].get(operation, {})
    assert entry.get("target_ms") == target, f"{COLOCATED_THRESHOLDS.name} sets {operation!r} target {entry}"
    assert f"p50<{target}" in entry.get("thresholds", []), f"{COLOCATED_THRESHOLDS.name}: {operation!r} {entry}"
    used = load_run.results["targets_ms"].get(operation)
    assert used == target, f"the load run judged {operation!r} against {used} ms, not {target} ms"


@then(parsers.parse('the median response time of "{operation}" under load was below {target:d} ms'))
def median_below(load_run: LoadRun, operation: str, target: int) -> None:
    stats = operation_stats(load_run, operation)
    assert stats["p50"] < target, f"{operation!r}: median {stats['p50']} ms, target {target} ms ({stats})"


@then(parsers.parse('every threshold on "{operation}" held under load'))
def thresholds_held(load_run: LoadRun, operation: str) -> None:
    table = thresholds.load_table(COLOCATED_THRESHOLDS)
    window = {name: window_stats(stats) for name, stats in load_run.results["operations"].items()}
    verdicts = [v for v in thresholds.judge(table, window) if v.target == operation]
    assert verdicts, f"{COLOCATED_THRESHOLDS.name} has no threshold on {operation!r}"
    broken = [v.describe() for v in verdicts if not v.passed]
    assert broken == [], f"thresholds breached: {broken}"


def window_stats(stats: dict[str, Any]) -> thresholds.WindowStats:
    names = ("requests", "failures", "p50", "p90", "p95", "p99", "avg", "max")
    return thresholds.WindowStats(**{name: stats[name] for name in names})


def overall(load_run: LoadRun) -> dict[str, Any]:
    return operation_stats(load_run, thresholds.OVERALL)


@then(parsers.parse("at least {percent:g} % of all requests under load succeeded"))
def overall_success(load_run: LoadRun, percent: float) -> None:
    stats = overall(load_run)
    succeeded = 100 * (1 - stats["fail_rate"])
    assert succeeded >= percent, f"{succeeded:.2f} % of {stats['requests']} requests succeeded, expected {percent} %"


@then(parsers.re(r"the (?P<nth>95|99)th percentile of all requests under load was below (?P<limit>\d+) ms"))
def overall_percentile(load_run: LoadRun, nth: str, limit: str) -> None:
    stats = overall(load_run)
    assert stats[f"p{nth}"] < int(limit), f"p{nth} of all requests was {stats[f'p{nth}']} ms, limit {limit} ms"
