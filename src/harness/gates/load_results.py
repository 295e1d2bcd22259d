"""What a load run measured, typed: read once from the files it leaves in its report folder.

Locust's master writes `load-results.json` (load/locustfile.py); the harness writes the service's
sampled resources beside it (`resources.csv`, `resources-summary.json`) and the benchmarks the release
report shows (`benchmarks.json`). The files stay as the run's evidence; the gate, `invoke load` and the
release report read them through this module only.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

RESULTS_NAME = "load-results.json"
RESOURCES_SAMPLES_NAME = "resources.csv"
RESOURCES_SUMMARY_NAME = "resources-summary.json"
BENCHMARKS_NAME = "benchmarks.json"


@dataclass(frozen=True)
class OperationStats:
    """One operation's (or all requests') figures over the measured window; times in milliseconds."""

    requests: int
    failures: int
    fail_rate: float
    p50: float
    p90: float
    p95: float
    p99: float
    avg: float
    max: float


@dataclass(frozen=True)
class ThresholdVerdict:
    target: str  # an operation name or "overall"
    expression: str
    actual: float | None  # None: nothing was measured
    passed: bool


@dataclass(frozen=True)
class StressStep:
    users: int
    breaches: tuple[str, ...]


@dataclass(frozen=True)
class Benchmark:
    """One operation against its checklist target, as the release report shows it."""

    operation: str
    target_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    status: Literal["passed", "failed"]


@dataclass(frozen=True)
class LoadResults:
    """`load-results.json`: the profile that ran, each operation's figures and the thresholds' verdicts."""

    profile: str
    kind: str
    users: int
    workers: int
    window_s: float
    operations: dict[str, OperationStats]
    targets_ms: dict[str, float]
    thresholds: tuple[ThresholdVerdict, ...]
    breaches: tuple[str, ...]
    knee_users: int | None = None  # stress profiles: the last step that held
    steps: tuple[StressStep, ...] = ()
    unjudged: tuple[str, ...] = ()  # ratio thresholds left out: the run measured no ceiling (`invoke bench`)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> LoadResults:
        return cls(
            profile=document["profile"],
            kind=document["kind"],
            users=document["users"],
            workers=document["workers"],
            window_s=document["window_s"],
            operations={name: OperationStats(**stats) for name, stats in document["operations"].items()},
            targets_ms=dict(document.get("targets_ms", {})),
            thresholds=tuple(ThresholdVerdict(**verdict) for verdict in document["thresholds"]),
            breaches=tuple(document["breaches"]),
            knee_users=document.get("knee_users"),
            steps=tuple(StressStep(step["users"], tuple(step["breaches"])) for step in document.get("steps", [])),
            unjudged=tuple(document.get("unjudged", ())),
        )

    def benchmarks(self) -> list[Benchmark]:
        """One benchmark per operation with a checklist target; its status is its thresholds' verdict."""
        benchmarks = []
        for operation, target in self.targets_ms.items():
            stats = self.operations.get(operation)
            verdicts = [verdict for verdict in self.thresholds if verdict.target == operation]
            passed = stats is not None and all(verdict.passed for verdict in verdicts)
            benchmarks.append(
                Benchmark(
                    operation=operation,
                    target_ms=float(target),
                    p50_ms=float(stats.p50) if stats else 0.0,
                    p95_ms=float(stats.p95) if stats else 0.0,
                    p99_ms=float(stats.p99) if stats else 0.0,
                    status="passed" if passed else "failed",
                )
            )
        return benchmarks


def read_load_results(report_dir: Path) -> LoadResults | None:
    """The results Locust wrote into `report_dir`; None when it wrote none (it failed to start or ran out)."""
    path = report_dir / RESULTS_NAME
    if not path.exists():
        return None
    return LoadResults.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_resources_summary(summary: dict[str, Any], report_dir: Path) -> None:
    (report_dir / RESOURCES_SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def read_resources(report_dir: Path) -> dict[str, Any]:
    """What the run sampled of the service and the database: its summary and the samples over time, for the
    report's resource chart. Empty when nothing was sampled (no load run, or a deployed stage)."""
    summary_path = report_dir / RESOURCES_SUMMARY_NAME
    samples_path = report_dir / RESOURCES_SAMPLES_NAME
    if not summary_path.exists():
        return {}
    resources: dict[str, Any] = {"summary": json.loads(summary_path.read_text(encoding="utf-8")), "samples": []}
    if samples_path.exists():
        with samples_path.open(newline="", encoding="utf-8") as handle:
            resources["samples"] = [
                {key: float(value) for key, value in row.items() if value not in ("", None)}
                for row in csv.DictReader(handle)
            ]
    return resources


def write_benchmarks(results: LoadResults, report_dir: Path) -> None:
    document = [asdict(benchmark) for benchmark in results.benchmarks()]
    (report_dir / BENCHMARKS_NAME).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
