"""The load and fuzz gates of `invoke qa`: Locust's `gate` profile and Schemathesis, each against a
stack of its own, with their outputs in `<run>/load/` and `<run>/fuzz/`."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.core.stages import Stage
from harness.gates.base import GateContext, GateResult
from harness.gates.bench import BenchConfig, run_bench
from harness.gates.bench_results import BENCH_NAME, MARKDOWN_NAME, markdown
from harness.gates.fuzz import FUZZ_EVIDENCE, run_fuzz
from harness.gates.load import LOAD_DIR, PROFILES_FILE, run_load, summarize
from harness.gates.load_results import RESOURCES_SAMPLES_NAME, RESULTS_NAME

LOCAL: frozenset[Stage] = frozenset({"local"})
STAGING: frozenset[Stage] = frozenset({"staging"})

LOAD_RESULTS = "OPS-LOAD-RESULTS"
# The item's own figures: "100 concurrent users for 5 minutes: >= 99.5% success, average 250 ms, p95 800 ms,
# p99 1200 ms". A run proves it only if it was that run: at least these users, measured this long, judged
# over all requests by thresholds at least this strict.
LOAD_RESULTS_USERS = 100
LOAD_RESULTS_STEADY_S = 300.0
LOAD_RESULTS_OVERALL = {"fail_rate": 0.005, "avg": 250.0, "p95": 800.0, "p99": 1200.0}
_BOUND = re.compile(r"^\s*(?P<metric>[a-z_0-9]+)\s*(?P<op><=|<)\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*$")


def load_results_gap(profile: str, thresholds: Path, profiles: Path = PROFILES_FILE) -> list[str]:
    """What keeps a run of `profile` judged by `thresholds` from being the run OPS-LOAD-RESULTS names
    (empty: it is that run, and its passing proves the item)."""
    try:
        raw = tomllib.loads(profiles.read_text(encoding="utf-8")).get(profile, {})
        document = tomllib.loads(thresholds.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        return [f"cannot read the profile or the thresholds: {error}"]
    gaps = []
    users, steady_s = int(raw.get("users", 0)), float(raw.get("steady_s", 0))
    if raw.get("kind") != "steady" or users < LOAD_RESULTS_USERS or steady_s < LOAD_RESULTS_STEADY_S:
        gaps.append(
            f"profile {profile!r} measures {users} users for {steady_s:g} s "
            f"(the item: {LOAD_RESULTS_USERS} users for {LOAD_RESULTS_STEADY_S:g} s, steady)"
        )
    overall = document.get("overall", {}).get("thresholds", [])
    bounds: dict[str, float] = {}
    for expression in overall:
        match = _BOUND.match(str(expression))
        if match is not None:
            value = float(match["value"])
            bounds[match["metric"]] = min(value, bounds.get(match["metric"], value))
    loose = [
        f"{metric}<={limit:g}"
        for metric, limit in LOAD_RESULTS_OVERALL.items()
        if metric not in bounds or bounds[metric] > limit
    ]
    if loose:
        gaps.append(f"{thresholds.name} does not hold all requests to {', '.join(loose)}")
    return gaps


@dataclass(frozen=True)
class LoadGate:
    """Passes when every threshold held over the profile's steady window (`load/thresholds-colocated.toml`:
    the local stage shares the machine with the load generator; that file says what it judges and why)."""

    name: str = "load"
    profile: str = "gate"
    workers: int = 0
    # The checklist's targets under 100 users, and its ask to monitor memory; the 5-minute run
    # (OPS-LOAD-RESULTS) is the `full` profile, which is not part of the gate (its local scenario reads
    # this run's measurements).
    proves: tuple[str, ...] = ("OPS-PERF-TARGETS", "OPS-LOAD", "PERF-06")
    stages: frozenset[Stage] = LOCAL
    thresholds: Path = LOAD_DIR / "thresholds-colocated.toml"
    # Set (LOAD_BENCH=1): `invoke bench` runs first, into <run>/bench/, and the thresholds' ratios
    # ("p95<=1.5x ceiling") are judged against it. Unset: they are listed as not judged.
    bench: BenchConfig | None = None

    @classmethod
    def for_staging(cls, thresholds: Path, profile: str = "staging") -> LoadGate:
        """The checklist's load test is against staging: a bounded profile of users of the run's own, judged
        by `thresholds` (the stage's LOAD_THRESHOLDS). The service's memory is not sampled from outside,
        so PERF-06 is not claimed. OPS-LOAD-RESULTS is claimed only when the profile and the thresholds
        are the item's own run (`load_results_gap`); the bounded `staging` profile is not."""
        proves: tuple[str, ...] = ("OPS-PERF-TARGETS", "OPS-LOAD")
        if not load_results_gap(profile, thresholds):
            proves += (LOAD_RESULTS,)
        return cls(profile=profile, stages=STAGING, proves=proves, thresholds=thresholds)

    def run(self, context: GateContext) -> GateResult:
        report_dir = context.run_dir / "load"
        bench_dir = context.run_dir / "bench"
        bench = run_bench(self.bench, bench_dir) if self.bench is not None else None
        outcome = run_load(
            context.stage,
            self.profile,
            report_dir,
            workers=self.workers,
            thresholds=self.thresholds,
            ceiling_ratios=bench.threshold_ratios() if bench is not None else None,
        )
        names = (RESULTS_NAME, "locust.html", RESOURCES_SAMPLES_NAME)
        paths = [report_dir / name for name in names] + [bench_dir / BENCH_NAME, bench_dir / MARKDOWN_NAME]
        evidence = tuple(path for path in paths if path.exists())
        detail = summarize(outcome) + (
            f"\nbench (the service against the bare stack):\n{markdown(bench)}" if bench else ""
        )
        if self.stages == STAGING and LOAD_RESULTS not in self.proves:
            gaps = "; ".join(load_results_gap(self.profile, self.thresholds))
            detail += f"\n  {LOAD_RESULTS} not claimed by this run: {gaps}"
        return GateResult("passed" if outcome.passed else "failed", detail, evidence)


@dataclass(frozen=True)
class FuzzGate:
    """Passes when Schemathesis found nothing: no 500, no undocumented status, no body off its schema."""

    name: str = "fuzz"
    proves: tuple[str, ...] = ("DOC-03",)  # the documented API is the API the service serves
    # Staging bounded (harness.gates.fuzz); production refused: fuzzing writes.
    stages: frozenset[Stage] = frozenset({"local", "staging"})
    max_examples: int | None = None

    def run(self, context: GateContext) -> GateResult:
        outcome = run_fuzz(context.stage, context.run_dir / "fuzz", max_examples=self.max_examples)
        evidence = tuple(path for path in (outcome.report_dir / name for name in FUZZ_EVIDENCE) if path.exists())
        return GateResult("passed" if outcome.passed else "failed", outcome.summary(), evidence)
