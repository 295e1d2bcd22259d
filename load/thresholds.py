"""Thresholds, k6-style: parse `load/thresholds.toml` and judge a window's statistics against it.

Pure Python (no Locust import), so the harness and the tests can use it without gevent's patching.
An expression is `<metric><op><number>`, e.g. `p95<200` (milliseconds) or `fail_rate<0.005`, or a ratio to
the bare stack measured in the same run (`invoke bench`, `load/ceiling.py`): `<metric><op><factor>x ceiling`,
e.g. `p95 <= 1.5x ceiling` (the service's p95 at most 1.5 times the ceiling's) or `rps >= 0.7x ceiling`.
A ratio is judged only when the run measured the ceiling (`judge(..., ratios=...)`); otherwise it is listed
as not judged (`unjudged`), never counted as held.
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.toml")
OVERALL = "overall"
METRICS = ("p50", "p90", "p95", "p99", "avg", "max", "fail_rate", "requests")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
# Latency ratios are judged at the checklist's load model, `rps` (throughput) at saturation: see `invoke bench`.
RATIO_METRICS = ("p50", "p90", "p95", "p99", "avg", "max", "rps")
_RATIO = re.compile(
    r"^\s*(?P<metric>[a-z_0-9]+)\s*(?P<op><=|>=|<|>)\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*x\s+ceiling\s*$"
)
_EXPRESSION = re.compile(r"^\s*(?P<metric>[a-z_0-9]+)\s*(?P<op><=|>=|<|>)\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*$")


class ThresholdError(ValueError):
    """The thresholds file says something this module cannot judge; the message names the entry."""


@dataclass(frozen=True)
class Threshold:
    target: str  # an operation name or "overall"
    metric: str
    op: str
    value: float  # a ratio's factor
    ratio: bool = False  # judged as service / ceiling against `value`

    @property
    def expression(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}" + ("x ceiling" if self.ratio else "")

    def holds(self, actual: float) -> bool:
        return _OPERATORS[self.op](actual, self.value)


@dataclass(frozen=True)
class WindowStats:
    """One request name's (or all requests') statistics over the measured window."""

    requests: int
    failures: int
    p50: float
    p90: float
    p95: float
    p99: float
    avg: float
    max: float

    @property
    def fail_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def metric(self, name: str) -> float:
        return float(self.requests) if name == "requests" else float(getattr(self, name))


@dataclass(frozen=True)
class Verdict:
    target: str
    expression: str
    actual: float | None  # None: nothing was measured
    passed: bool

    def describe(self) -> str:
        ratio = self.expression.endswith("x ceiling")
        if self.actual is None:
            missing = "no ceiling ratio measured for it" if ratio else "no requests in the measured window"
            return f"{self.target}: {self.expression} ({missing})"
        return f"{self.target}: {self.expression} (actual {self.actual:g}{'x' if ratio else ''})"


@dataclass(frozen=True)
class ThresholdTable:
    thresholds: tuple[Threshold, ...]
    targets_ms: Mapping[str, float]  # operation -> the checklist target, for the release report

    @property
    def operations(self) -> list[str]:
        return list(dict.fromkeys(t.target for t in self.thresholds if t.target != OVERALL))


def parse_expression(target: str, expression: str) -> Threshold:
    ratio = _RATIO.match(expression)
    if ratio is not None and ratio["metric"] in RATIO_METRICS and float(ratio["value"]) > 0:
        return Threshold(target, ratio["metric"], ratio["op"], float(ratio["value"]), ratio=True)
    match = _EXPRESSION.match(expression)
    if match is None or match["metric"] not in METRICS:
        raise ThresholdError(
            f"{target!r}: cannot read threshold {expression!r}; write <metric><op><number> with a metric of "
            f"{', '.join(METRICS)} and an op of <, <=, >, >= (e.g. 'p95<200'), or <metric><op><factor>x ceiling "
            f"with a metric of {', '.join(RATIO_METRICS)} (e.g. 'p95 <= 1.5x ceiling')"
        )
    return Threshold(target, match["metric"], match["op"], float(match["value"]))


def load_table(path: Path = DEFAULT_THRESHOLDS) -> ThresholdTable:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ThresholdError(f"cannot read thresholds file {path}: {error}") from None
    return table_from_document(document, source=str(path))


def table_from_document(document: Mapping[str, Any], source: str = "thresholds") -> ThresholdTable:
    thresholds: list[Threshold] = []
    targets: dict[str, float] = {}
    operations = document.get("operations", {})
    if not isinstance(operations, dict):
        raise ThresholdError(f"{source}: [operations] must be a table of operation names")
    for name, entry in operations.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("thresholds", []), list):
            raise ThresholdError(f"{source}: operations.{name!r} needs `thresholds = [...]`")
        thresholds += [parse_expression(name, str(expression)) for expression in entry.get("thresholds", [])]
        if "target_ms" in entry:
            targets[name] = float(entry["target_ms"])
    overall = document.get(OVERALL, {})
    thresholds += [parse_expression(OVERALL, str(expression)) for expression in overall.get("thresholds", [])]
    if not thresholds:
        raise ThresholdError(f"{source}: no thresholds declared; a gate that cannot fail is no gate")
    return ThresholdTable(tuple(thresholds), targets)


def judge(
    table: ThresholdTable,
    window: Mapping[str, WindowStats],
    ratios: Mapping[str, Mapping[str, float]] | None = None,
) -> list[Verdict]:
    """Every threshold against the window (`window[OVERALL]` holds all requests together).

    `ratios`: operation -> metric -> service/ceiling measured in the same run; without it the ratio
    thresholds are not judged (see `unjudged`). A ratio threshold on a figure the run did not measure fails.
    """
    verdicts = []
    for threshold in table.thresholds:
        if threshold.ratio:
            if ratios is not None:
                actual = ratios.get(threshold.target, {}).get(threshold.metric)
                held = actual is not None and threshold.holds(actual)
                verdicts.append(Verdict(threshold.target, threshold.expression, actual, held))
            continue
        stats = window.get(threshold.target)
        if stats is None or stats.requests == 0:
            verdicts.append(Verdict(threshold.target, threshold.expression, None, passed=False))
            continue
        actual = stats.metric(threshold.metric)
        verdicts.append(Verdict(threshold.target, threshold.expression, round(actual, 4), threshold.holds(actual)))
    return verdicts


def unjudged(table: ThresholdTable, ratios: Mapping[str, Mapping[str, float]] | None) -> list[str]:
    """The ratio thresholds `judge` left out because the run measured no ceiling."""
    return [] if ratios is not None else [f"{t.target}: {t.expression}" for t in table.thresholds if t.ratio]


def breaches(verdicts: list[Verdict]) -> list[Verdict]:
    return [verdict for verdict in verdicts if not verdict.passed]


def verdicts_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(verdict) for verdict in verdicts]
