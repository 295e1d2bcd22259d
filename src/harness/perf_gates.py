"""The load and fuzz gates of `invoke qa`: Locust's `gate` profile and Schemathesis, each against a
stack of its own, with their outputs in `<run>/load/` and `<run>/fuzz/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.fuzz import run_fuzz
from harness.gate import GateContext, GateResult
from harness.load import LOAD_DIR, run_load, summarize
from harness.stages import Stage

LOCAL: frozenset[Stage] = frozenset({"local"})
STAGING: frozenset[Stage] = frozenset({"staging"})


@dataclass(frozen=True)
class LoadGate:
    """Passes when every threshold held over the profile's steady window (`load/thresholds-colocated.toml`:
    the local stage shares the machine with the load generator; that file says what it judges and why)."""

    name: str = "load"
    profile: str = "gate"
    workers: int = 0
    # The checklist's targets under 100 users, and its ask to monitor memory; the 5-minute run
    # (OPS-LOAD-RESULTS) is the `full` profile, which is not part of the gate.
    proves: tuple[str, ...] = ("OPS-PERF-TARGETS", "OPS-LOAD", "PERF-06")
    stages: frozenset[Stage] = LOCAL
    thresholds: Path = LOAD_DIR / "thresholds-colocated.toml"

    @classmethod
    def for_staging(cls, thresholds: Path) -> LoadGate:
        """The checklist's load test is against staging: a bounded profile of users of the run's own, judged
        by `thresholds` (the stage's LOAD_THRESHOLDS). The service's memory is not sampled from outside,
        so PERF-06 is not claimed."""
        return cls(profile="staging", stages=STAGING, proves=("OPS-PERF-TARGETS", "OPS-LOAD"), thresholds=thresholds)

    def run(self, context: GateContext) -> GateResult:
        report_dir = context.run_dir / "load"
        outcome = run_load(context.stage, self.profile, report_dir, workers=self.workers, thresholds=self.thresholds)
        evidence = tuple(
            path
            for path in (report_dir / name for name in ("load-results.json", "locust.html", "resources.csv"))
            if path.exists()
        )
        return GateResult("passed" if outcome.passed else "failed", summarize(outcome), evidence)


@dataclass(frozen=True)
class FuzzGate:
    """Passes when Schemathesis found nothing: no 500, no undocumented status, no body off its schema."""

    name: str = "fuzz"
    proves: tuple[str, ...] = ("DOC-03",)  # the documented API is the API the service serves
    # Staging bounded (harness.fuzz); production refused: fuzzing writes.
    stages: frozenset[Stage] = frozenset({"local", "staging"})
    max_examples: int | None = None

    def run(self, context: GateContext) -> GateResult:
        outcome = run_fuzz(context.stage, context.run_dir / "fuzz", max_examples=self.max_examples)
        evidence = tuple(
            path
            for path in (outcome.report_dir / name for name in ("junit.xml", "cassette.yaml", "schemathesis.log"))
            if path.exists()
        )
        return GateResult("passed" if outcome.passed else "failed", outcome.summary(), evidence)
