"""What `invoke bench` measured, typed: each round's figures per mode and side, their medians, and the ratios.

A round measures both sides (the service, then the ceiling, or the other way round: the order alternates
from round to round) in each mode. A ratio is service / ceiling within one round, so the two figures it
divides were taken minutes apart at most, on the same machine under the same other load; the summary
quotes the median ratio over the rounds and its spread (min-max). `bench.json` is the evidence; the
load gate (ratio thresholds) and the release report read it through this module only.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_NAME = "bench.json"
MARKDOWN_NAME = "bench.md"
SIDES = ("service", "ceiling")
# Throughput is what saturation measures; latency is what the checklist's load model measures.
MODE_METRICS = {"saturation": ("rps",), "model": ("p50", "p95", "p99")}
LATENCY_METRICS = ("p50", "p90", "p95", "p99", "avg", "max")
MODE_TITLES = {"saturation": "saturation (no wait): throughput", "model": "checklist load model: latency"}


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float


@dataclass(frozen=True)
class ModeSummary:
    """One mode over all rounds: each side's median figures, and each metric's service/ceiling ratio."""

    mode: str
    users: int
    wait_s: tuple[float, float]
    rounds: int
    service: dict[str, float]
    ceiling: dict[str, float]
    ratios: dict[str, Spread]
    failures: dict[str, int]  # per side, over all rounds


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else 0.0


def summarize_mode(mode: str, users: int, wait_s: tuple[float, float], rounds: list[dict[str, Any]]) -> ModeSummary:
    """`rounds`: one {"service": figures, "ceiling": figures} per round (figures as the bench locustfile writes)."""
    metrics = sorted({key for side in SIDES for figures in rounds for key in figures[side]})
    medians = {side: {m: _median([float(r[side][m]) for r in rounds]) for m in metrics} for side in SIDES}
    ratios = {}
    for metric in [m for m in metrics if m in (*LATENCY_METRICS, "rps")]:
        per_round = [
            float(r["service"][metric]) / float(r["ceiling"][metric]) for r in rounds if float(r["ceiling"][metric]) > 0
        ]
        if per_round:
            ratios[metric] = Spread(
                round(statistics.median(per_round), 3), round(min(per_round), 3), round(max(per_round), 3)
            )
    failures = {side: int(sum(float(r[side].get("failures", 0)) for r in rounds)) for side in SIDES}
    return ModeSummary(mode, users, wait_s, len(rounds), medians["service"], medians["ceiling"], ratios, failures)


@dataclass(frozen=True)
class BenchResults:
    """`bench.json`: the settings of the run, every round's figures and each mode's summary."""

    integrations: int  # rows in the bench user's list (both sides answer with all of them)
    rounds: dict[str, list[dict[str, Any]]]  # mode -> one entry per round, with the order the sides ran in
    summaries: dict[str, ModeSummary]

    def ratio(self, operation: str, metric: str) -> float | None:
        """The median service/ceiling ratio of `metric` for `operation`: latency metrics at the load model,
        `rps` at saturation. None when the bench did not measure it (it measures the integration list)."""
        if operation != "integration list":
            return None
        summary = self.summaries.get("saturation" if metric == "rps" else "model")
        spread = summary.ratios.get(metric) if summary else None
        return spread.median if spread else None

    def threshold_ratios(self) -> dict[str, dict[str, float]]:
        """What the ratio thresholds judge: operation -> metric -> median service/ceiling ratio."""
        wanted = [*LATENCY_METRICS, "rps"]
        found = {metric: self.ratio("integration list", metric) for metric in wanted}
        return {"integration list": {metric: ratio for metric, ratio in found.items() if ratio is not None}}

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": "integration list",
            "integrations": self.integrations,
            "rounds": self.rounds,
            "summary": {
                mode: {
                    "users": s.users,
                    "wait_s": list(s.wait_s),
                    "rounds": s.rounds,
                    "service": s.service,
                    "ceiling": s.ceiling,
                    "failures": s.failures,
                    "ratios": {m: vars(spread) for m, spread in s.ratios.items()},
                }
                for mode, s in self.summaries.items()
            },
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> BenchResults:
        summaries = {
            mode: ModeSummary(
                mode=mode,
                users=int(raw["users"]),
                wait_s=(float(raw["wait_s"][0]), float(raw["wait_s"][1])),
                rounds=int(raw["rounds"]),
                service=dict(raw["service"]),
                ceiling=dict(raw["ceiling"]),
                ratios={metric: Spread(**spread) for metric, spread in raw["ratios"].items()},
                failures=dict(raw["failures"]),
            )
            for mode, raw in document["summary"].items()
        }
        return cls(int(document["integrations"]), dict(document["rounds"]), summaries)


@dataclass(frozen=True)
class BenchRow:
    """One line of the "Performance against the bare stack" table."""

    mode: str
    metric: str
    service: float
    ceiling: float
    ratio: Spread | None


def table_rows(results: BenchResults) -> list[BenchRow]:
    rows = []
    for mode, metrics in MODE_METRICS.items():
        summary = results.summaries.get(mode)
        if summary is None:
            continue
        for metric in metrics:
            rows.append(
                BenchRow(
                    mode,
                    metric,
                    summary.service.get(metric, 0.0),
                    summary.ceiling.get(metric, 0.0),
                    summary.ratios.get(metric),
                )
            )
    return rows


def _unit(metric: str) -> str:
    return "req/s" if metric == "rps" else "ms"


def markdown(results: BenchResults) -> str:
    """The table the bench prints and writes to bench.md (and a note puts in front of a reader)."""
    lines = [
        f"`GET /api/integrations`, {results.integrations} integrations per answer; medians of each mode's rounds; "
        "ratio = service / ceiling per round: median (min-max).",
        "",
        "| mode | users | metric | service | ceiling | ratio (spread) |",
        "|---|---|---|---|---|---|",
    ]
    for row in table_rows(results):
        summary = results.summaries[row.mode]
        wait = "no wait" if summary.wait_s[1] == 0 else f"wait {summary.wait_s[0]:g}-{summary.wait_s[1]:g} s"
        ratio = f"{row.ratio.median:.2f}x ({row.ratio.low:.2f}-{row.ratio.high:.2f})" if row.ratio else "-"
        lines.append(
            f"| {row.mode} | {summary.users}, {wait} | {row.metric} ({_unit(row.metric)}) | {row.service:g} | "
            f"{row.ceiling:g} | {ratio} |"
        )
    failures = {mode: s.failures for mode, s in results.summaries.items() if any(s.failures.values())}
    if failures:
        lines += ["", f"Failed requests: {failures}"]
    return "\n".join(lines) + "\n"


def write_bench(results: BenchResults, report_dir: Path) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / BENCH_NAME
    path.write_text(json.dumps(results.to_json(), indent=2) + "\n", encoding="utf-8")
    (report_dir / MARKDOWN_NAME).write_text(markdown(results), encoding="utf-8")
    return path


def read_bench(report_dir: Path) -> BenchResults | None:
    """The bench of a run folder's `bench/` (or of `report_dir` itself); None when no bench ran."""
    for path in (report_dir / BENCH_NAME, report_dir / "bench" / BENCH_NAME):
        if path.exists():
            return BenchResults.from_json(json.loads(path.read_text(encoding="utf-8")))
    return None
