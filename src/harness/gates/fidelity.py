"""Provider fidelity: how faithfully the sandbox answered, as a number per provider and operation.

The scenario gate's sandbox logs every Xero, PayPal and Stripe exchange (`SANDBOX_EXCHANGE_LOG`,
provider_sandbox/core/exchanges.py); this gate checks each logged response against the provider's official
spec, or for Stripe against the official SDK's types (harness/core/provider_specs.py), and judges each
operation's share of valid responses against `contract/fidelity.toml`. A status the spec does not define is
judged against the provider's documented shape when `contract/provider-shapes/` keeps one (Xero's 401, 403,
404 and 429). A drop fails the gate naming the operation and its first violations; the table is the release
report's "Provider fidelity" and `release-report.json`'s `fidelity` section.

Not judged, but counted and listed: responses of injected faults (the test chose them), statuses neither
the spec nor a documented shape describes, and paths no spec covers (the OAuth token endpoints).
"""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.paths import PROJECT_ROOT
from harness.core.provider_shapes import documented_shapes
from harness.core.provider_specs import Checked, check_exchange, missing_specs, provider_specs_dir
from harness.core.stages import Stage
from harness.gates.base import GateContext, GateResult

FIDELITY_CONFIG = PROJECT_ROOT / "contract" / "fidelity.toml"
EXCHANGES_FILE = "exchanges.jsonl"
RESULTS_FILE = "fidelity.json"
MAX_PROBLEMS = 3  # violations kept per operation: the first ones, which usually say it all


def fidelity_dir(run_dir: Path) -> Path:
    return run_dir / "fidelity"


@dataclass
class OperationScore:
    provider: str
    operation: str
    valid: int = 0
    invalid: int = 0
    undocumented: int = 0
    faults: int = 0
    problems: list[str] = field(default_factory=list)
    undocumented_statuses: list[int] = field(default_factory=list)
    by_shape: int = 0  # of the judged: answers judged against a documented shape (their status is not in the spec)
    shape_statuses: list[int] = field(default_factory=list)
    status: str = "passed"  # passed, failed, allowed (below the threshold, with a reason in the config)
    allowed_because: str = ""

    @property
    def judged(self) -> int:
        return self.valid + self.invalid

    @property
    def share(self) -> float:
        return self.valid / self.judged if self.judged else 1.0

    def add(self, checked: Checked, status: int, fault: object) -> None:
        if fault is not None:
            self.faults += 1
            return
        if checked.shape:
            self.by_shape += 1
            if status not in self.shape_statuses:
                self.shape_statuses.append(status)
        if checked.verdict == "valid":
            self.valid += 1
        elif checked.verdict == "invalid":
            self.invalid += 1
            if len(self.problems) < MAX_PROBLEMS:
                judge = f" (documented shape {checked.shape})" if checked.shape else ""
                self.problems.append(f"{status}{judge}: {checked.problem}")
        else:
            self.undocumented += 1
            if status not in self.undocumented_statuses:
                self.undocumented_statuses.append(status)


@dataclass(frozen=True)
class FidelityConfig:
    min_valid_share: float
    allowed: dict[str, str]  # "provider METHOD /path" -> why it may stay below the threshold for now

    @classmethod
    def read(cls, path: Path = FIDELITY_CONFIG) -> FidelityConfig:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(float(document["min_valid_share"]), dict(document.get("allowed", {})))


def score_exchanges(exchanges: Iterable[dict[str, Any]], config: FidelityConfig) -> dict[str, Any]:
    """The fidelity section: per operation and per provider, the paths outside every spec, what failed."""
    scores: dict[tuple[str, str], OperationScore] = {}
    outside: defaultdict[str, set[str]] = defaultdict(set)
    for exchange in exchanges:
        if exchange.get("truncated"):
            continue
        checked = check_exchange(exchange)
        if checked.verdict == "outside":
            outside[checked.provider].add(checked.operation)
            continue
        key = (checked.provider, checked.operation)
        score = scores.setdefault(key, OperationScore(checked.provider, checked.operation))
        score.add(checked, exchange["status"], exchange.get("fault"))
    operations = sorted(scores.values(), key=lambda score: (score.provider, score.operation))
    failed = [_judge(score, config) for score in operations]
    return {
        "specs": str(provider_specs_dir()),
        "min_valid_share": config.min_valid_share,
        "providers": _by_provider(operations),
        "operations": [_row(score) for score in operations],
        "outside_specs": {provider: sorted(paths) for provider, paths in sorted(outside.items())},
        "shapes": [  # the documented shapes kept for statuses a spec leaves out, with their sources
            {
                "provider": shape.provider,
                "status": shape.status,
                "file": shape.file,
                "source": shape.source,
                "confidence": shape.confidence,
            }
            for shape in documented_shapes().values()
        ],
        "failed": [failure for failure in failed if failure],
    }


def _row(score: OperationScore) -> dict[str, Any]:
    return {**asdict(score), "judged": score.judged, "share": round(score.share, 4)}


def _judge(score: OperationScore, config: FidelityConfig) -> str:
    if score.share >= config.min_valid_share:
        return ""
    reason = config.allowed.get(f"{score.provider} {score.operation}")
    if reason:
        score.status, score.allowed_because = "allowed", reason
        return ""
    score.status = "failed"
    return (
        f"{score.provider} {score.operation}: {score.valid} of {score.judged} responses valid"
        f" ({'; '.join(score.problems)})"
    )


def _by_provider(operations: list[OperationScore]) -> dict[str, dict[str, int]]:
    totals: defaultdict[str, dict[str, int]] = defaultdict(lambda: {"operations": 0, "valid": 0, "judged": 0})
    for score in operations:
        total = totals[score.provider]
        total["operations"] += 1
        total["valid"] += score.valid
        total["judged"] += score.judged
    return dict(sorted(totals.items()))


def read_exchanges(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_fidelity(run_dir: Path) -> dict[str, Any]:
    """This run's fidelity section, or {} when the gate did not score anything."""
    path = fidelity_dir(run_dir) / RESULTS_FILE
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


class FidelityGate:
    """Scores the exchanges the scenario gate's sandbox logged; runs after it, on the local stage (where the
    sandbox is the harness's own)."""

    name = "fidelity"
    stages: frozenset[Stage] = frozenset({"local"})
    proves: tuple[str, ...] = ()

    def __init__(self, config_path: Path = FIDELITY_CONFIG) -> None:
        self.config_path = config_path

    def run(self, context: GateContext) -> GateResult:
        exchanges = fidelity_dir(context.run_dir) / EXCHANGES_FILE
        if not exchanges.exists():
            return GateResult("skipped", f"no sandbox exchanges were logged in this run ({exchanges})")
        missing = missing_specs()
        if missing:
            return GateResult("skipped", f"the providers' specs are not in {provider_specs_dir()}: {missing}")
        section = score_exchanges(read_exchanges(exchanges), FidelityConfig.read(self.config_path))
        results = fidelity_dir(context.run_dir) / RESULTS_FILE
        results.write_text(json.dumps(section, indent=2) + "\n", encoding="utf-8")
        summary = ", ".join(
            f"{provider} {total['valid']}/{total['judged']} valid over {total['operations']} operations"
            for provider, total in section["providers"].items()
        )
        if section["failed"]:
            return GateResult("failed", "below the threshold: " + " | ".join(section["failed"]), (results,))
        if not section["operations"]:  # the scenarios call the providers: an empty log means logging broke
            return GateResult("failed", "the sandbox logged no response of a specified operation", (results,))
        return GateResult("passed", summary, (results,))
