"""The release report: every checklist item with its status, every gate, the benchmarks and the verdict.

Written as `release-report.json` (for machines) and `release-report.html` (for people) into the run
folder, with `reports/latest` pointing at the newest run. An item is `passed` only when something
ran and proved it; an item nothing proves yet is `pending` and says so.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, select_autoescape

from harness.core.checklist import ChecklistItem
from harness.core.stages import Stage
from harness.gates.base import GateRun
from harness.gates.bench_results import BenchRow, read_bench, table_rows
from harness.gates.faults.gate import FaultCell
from harness.gates.load_results import Benchmark, read_resources

ItemStatus = Literal["passed", "failed", "skipped", "attested", "pending", "waived", "not_judged"]
Verdict = Literal["pass", "fail"]

JSON_NAME = "release-report.json"
HTML_NAME = "release-report.html"
LATEST_LINK = "latest"

_BLOCKING_GATE_STATUSES = frozenset({"failed", "error"})
# In staging and production only these item statuses let a release go ahead. A waiver is a recorded
# decision by a named person that an item nothing could prove here may not block this run.
_RELEASABLE_ITEM_STATUSES = frozenset({"passed", "attested", "waived"})
_STATUSES: tuple[ItemStatus, ...] = ("passed", "failed", "skipped", "attested", "pending", "waived", "not_judged")

VERDICT_RULES: dict[Stage, str] = {
    "local": (
        "local: pass when every gate that ran passed and no checklist item failed. Pending and skipped "
        "items are listed but do not block a local run: it checks a developer's tree, it does not "
        "approve a release; its passing run is what proves this commit's code items on the other stages."
    ),
    "staging": (
        "staging: pass only when every gate passed, the stage runs this commit, and every checklist item is "
        "passed (or waived, by name and reason); a failed, skipped or pending item blocks the release. Code "
        "items count when the passing local gate of this commit proved them (named in the item); deployment "
        "items must be proved on staging itself. Sign-offs are listed but do not block: people sign off after "
        "reading this report."
    ),
    "production": (
        "production: pass only when every gate passed, the stage runs this commit, and every checklist item "
        "is passed, attested or waived; a failed, skipped or pending item, a missing sign-off included, blocks "
        "the release. Production runs only read-only scenarios: a deployment item none of them proves counts "
        "when the passing staging run of this commit proved it, a code item when the commit's gate did."
    ),
}


@dataclass(frozen=True)
class Waiver:
    """`invoke qa --waive ID=REASON`: an item that nothing could prove in this run may not block it."""

    id: str
    reason: str
    by: str


@dataclass(frozen=True)
class ChecklistEntry:
    id: str
    section: str
    kind: str
    text: str
    status: ItemStatus
    scenarios: list[ScenarioEvidence]
    gates: list[str]
    detail: str
    scope: str = "deployment"


@dataclass
class ReleaseReport:
    run_id: str
    stage: Stage
    git_sha: str
    git_dirty: bool
    started_at: str
    finished_at: str
    verdict: Verdict
    verdict_rule: str
    verdict_reasons: list[str]
    coverage: dict[str, Any]
    checklist: list[ChecklistEntry]
    gates: list[GateRun]
    benchmarks: list[Benchmark] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    partial: str | None = None  # what a partial run left out; None for a full run
    resources: dict[str, Any] = field(default_factory=dict)  # the service under load: summary and samples
    deployed_sha: str | None = None  # what the stage said it runs (staging, production)
    waivers: list[Waiver] = field(default_factory=list)
    faults: list[FaultCell] = field(default_factory=list)  # the fault matrix's cells, if its gate ran
    bare_stack: list[BenchRow] = field(default_factory=list)  # the bench's service/ceiling table, if it ran
    fidelity: dict[str, Any] = field(default_factory=dict)  # the sandbox against the specs, if its gate ran

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        for gate in document["gates"]:
            gate["proves"] = list(gate["proves"])
            gate["evidence"] = list(gate["evidence"])
            gate["scenarios"] = len(gate["scenarios"])  # each one is shown under the ids it carries
        return document


@dataclass(frozen=True)
class ScenarioEvidence:
    """A scenario as the report shows it under each id it carries."""

    feature: str
    name: str
    status: str
    steps: list[dict[str, str]]
    failure: str


# Over 60 lines: one decision table (proved here, carried, attested, waived, not judged), each row a few lines.
def checklist_entry(
    item: ChecklistItem,
    gate_runs: list[GateRun],
    attestation: str | None = None,
    stage: Stage = "local",
    carried: str | None = None,
    waiver: Waiver | None = None,
) -> ChecklistEntry:
    """An item's status from what claims to prove it: gates, the scenarios tagged with its id and, for
    `attest` items, the recorded attestation (a scenario can prove the recording works, never the decision).

    Anything that failed fails the item; it passes only when something ran and everything that ran passed.
    """
    provers = [run for run in gate_runs if item.id in run.proves and run.applies]
    outcomes = [outcome for run in gate_runs for outcome in run.scenarios if item.id in outcome.tags]
    evidence = [
        ScenarioEvidence(
            feature=outcome.feature,
            name=outcome.name,
            status=outcome.status,
            steps=[{"text": step.text, "status": step.status} for step in outcome.steps],
            failure=outcome.failure,
        )
        for outcome in outcomes
    ]

    def entry(status: ItemStatus, detail: str) -> ChecklistEntry:
        return ChecklistEntry(
            id=item.id,
            section=item.section,
            kind=item.kind,
            text=item.text,
            status=status,
            scenarios=evidence,
            gates=[run.name for run in provers],
            detail=detail,
            scope=item.scope,
        )

    if stage not in item.judged_in:  # e.g. production's deployment procedure, on staging
        elsewhere = ", ".join(sorted(item.judged_in))
        return entry("not_judged", f"not part of the {stage} verdict: the item is judged in {elsewhere}")
    broken_gates = [run.name for run in provers if run.status in _BLOCKING_GATE_STATUSES]
    failed_scenarios = [outcome.name for outcome in outcomes if outcome.status == "failed"]
    if broken_gates or failed_scenarios:
        reasons = [f"gate {name} did not pass" for name in broken_gates]
        reasons += [f"scenario failed: {name}" for name in failed_scenarios]
        return entry("failed", "; ".join(reasons))
    passed = [f"gate {run.name}" for run in provers if run.status == "passed"]
    passed += [f"scenario “{outcome.name}”" for outcome in outcomes if outcome.status == "passed"]
    not_run = [f"gate {run.name}" for run in provers if run.status == "skipped"]
    not_run += [f"scenario “{outcome.name}” ({outcome.failure})" for outcome in outcomes if outcome.status == "skipped"]
    if item.kind == "attest":
        checked = f" The recording and the gating were checked by {', '.join(passed)}." if passed else ""
        if attestation is not None:
            return entry("attested", f"attested: {attestation}.{checked}")
        return entry("pending", f"no attestation recorded for this commit (`invoke signoff`).{checked}")
    if passed and not not_run:
        return entry("passed", "proved by " + ", ".join(passed))
    if carried is not None and not passed:
        # Nothing of this run proved it (what did not run is named); an earlier run of the commit did.
        return entry("passed", carried + (f" (not run here: {', '.join(not_run)})" if not_run else ""))
    if not_run:
        ran = f"; passed: {', '.join(passed)}" if passed else ""
        unproved = entry("skipped", f"did not run: {', '.join(not_run)}{ran}")
    else:
        unproved = entry("pending", _pending_detail(stage))
    if waiver is None:
        return unproved
    return entry("waived", f"waived by {waiver.by}: {waiver.reason} (otherwise {unproved.status}: {unproved.detail})")


def _pending_detail(stage: Stage) -> str:
    return (
        f"nothing ran that proves it in stage {stage}: no gate of this run and no scenario tagged @{stage} carries it"
    )


def decide_verdict(stage: Stage, entries: list[ChecklistEntry], gate_runs: list[GateRun]) -> tuple[Verdict, list[str]]:
    """The verdict and every reason it is not `pass` (empty when it is)."""
    reasons = [f"gate {run.name} {run.status}" for run in gate_runs if run.status in _BLOCKING_GATE_STATUSES]
    failed_items = [entry.id for entry in entries if entry.status == "failed"]
    if failed_items:
        reasons.append(f"{len(failed_items)} checklist item(s) failed: {', '.join(failed_items)}")
    if stage != "local":
        # Staging is where people read the evidence they then sign off on: only production needs the sign-offs.
        judged = [
            entry
            for entry in entries
            if (stage == "production" or entry.kind != "attest") and entry.status != "not_judged"
        ]
        unproved = Counter(entry.status for entry in judged if entry.status not in _RELEASABLE_ITEM_STATUSES)
        for status in ("pending", "skipped"):
            if unproved[status]:
                ids = ", ".join(entry.id for entry in judged if entry.status == status)
                reasons.append(f"{unproved[status]} checklist item(s) {status}, not proved in stage {stage}: {ids}")
    if not gate_runs:
        reasons.append("no gate ran: nothing was checked")
    return ("fail" if reasons else "pass"), reasons


def coverage_summary(entries: list[ChecklistEntry]) -> dict[str, Any]:
    statuses = Counter(entry.status for entry in entries)
    automated = sum(1 for entry in entries if entry.gates or entry.scenarios)
    return {
        "items": len(entries),
        "automated": automated,
        "by_status": {status: statuses[status] for status in _STATUSES},
        "summary": (
            f"{statuses['passed']} of {len(entries)} checklist items passed, {statuses['attested']} attested, "
            f"{statuses['failed']} failed, {statuses['skipped']} skipped, {statuses['pending']} pending"
            + (f", {statuses['waived']} waived" if statuses["waived"] else "")
            + (f", {statuses['not_judged']} not judged in this stage" if statuses["not_judged"] else "")
        ),
    }


# Over 60 lines: one keyword per section of the report, passed through to its field.
def build_report(
    *,
    run_id: str,
    stage: Stage,
    git_sha: str,
    git_dirty: bool,
    started_at: str,
    finished_at: str,
    items: list[ChecklistItem],
    gate_runs: list[GateRun],
    benchmarks: list[Benchmark] | None = None,
    attestations: dict[str, str] | None = None,
    partial: str | None = None,
    resources: dict[str, Any] | None = None,
    carried: dict[str, str] | None = None,
    waivers: list[Waiver] | None = None,
    deployed_sha: str | None = None,
    faults: list[FaultCell] | None = None,
    bare_stack: list[BenchRow] | None = None,
    fidelity: dict[str, Any] | None = None,
) -> ReleaseReport:
    """`attestations`: checklist id → who attested and when, for this commit. `partial`: what a partial
    run (`--only`, `--skip`) left out; its verdict says so and never approves a release. `carried`: id →
    the earlier run of this commit that proved it (`harness.core.proofs`). `waivers`: items that may not block."""
    attestations, carried = attestations or {}, carried or {}
    waived = {waiver.id: waiver for waiver in waivers or []}
    entries = [
        checklist_entry(item, gate_runs, attestations.get(item.id), stage, carried.get(item.id), waived.get(item.id))
        for item in items
    ]
    verdict, reasons = decide_verdict(stage, entries, gate_runs)
    notes = [f"Waived: {waiver.id} by {waiver.by}: {waiver.reason}" for waiver in waived.values()]
    if partial:
        notes.append(f"Partial run: {partial}. Items outside it are pending or skipped, not proved.")
        if stage != "local":
            verdict = "fail"
            reasons.append(f"partial run ({partial}): it cannot approve a release")
    if not benchmarks:
        notes.append("No benchmarks in this run: the load gate did not run or measured nothing.")
    return ReleaseReport(
        run_id=run_id,
        stage=stage,
        git_sha=git_sha,
        git_dirty=git_dirty,
        started_at=started_at,
        finished_at=finished_at,
        verdict=verdict,
        verdict_rule=VERDICT_RULES[stage],
        verdict_reasons=reasons,
        coverage=coverage_summary(entries),
        checklist=entries,
        gates=gate_runs,
        benchmarks=list(benchmarks or []),
        notes=notes,
        partial=partial,
        resources=resources or {},
        deployed_sha=deployed_sha,
        waivers=list(waived.values()),
        faults=list(faults or []),
        bare_stack=list(bare_stack or []),
        fidelity=fidelity or {},
    )


def collect_resources(run_dir: Path) -> dict[str, Any]:
    """What the load gate sampled (`<run>/load/`), for the report's resource chart; empty if it did not run."""
    return read_resources(run_dir / "load")


def collect_bare_stack(run_dir: Path) -> list[BenchRow]:
    """The bench's rows (`<run>/bench/`, LOAD_BENCH=1), for the "Performance against the bare stack" table."""
    results = read_bench(run_dir / "bench")
    return table_rows(results) if results else []


def chart_points(samples: list[dict[str, float]], column: str, width: float, height: float) -> str:
    """An SVG polyline's points for one sampled column, scaled to width by height (y grows downwards)."""
    values = [(sample.get("elapsed_s", 0.0), sample[column]) for sample in samples if column in sample]
    if len(values) < 2:
        return ""
    last_x = max(x for x, _ in values) or 1.0
    top = max(y for _, y in values) or 1.0
    return " ".join(f"{x / last_x * width:.1f},{height - y / top * height:.1f}" for x, y in values)


def render_html(report: ReleaseReport) -> str:
    environment = Environment(
        loader=PackageLoader("harness", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )
    sections: dict[str, list[ChecklistEntry]] = {}
    for entry in report.checklist:
        sections.setdefault(entry.section, []).append(entry)
    environment.globals["chart_points"] = chart_points
    return environment.get_template("release-report.html.j2").render(report=report, sections=sections)


def write_report(report: ReleaseReport, run_dir: Path) -> tuple[Path, Path]:
    """Write the JSON and HTML report into `run_dir`; point `<run_dir's parent>/latest` at it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    json_path = run_dir / JSON_NAME
    html_path = run_dir / HTML_NAME
    json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    point_latest_at(run_dir)
    return json_path, html_path


def point_latest_at(run_dir: Path) -> None:
    """Swap the `latest` symlink atomically, so a reader never finds it missing or half-made."""
    latest = run_dir.parent / LATEST_LINK
    temporary = run_dir.parent / f".{LATEST_LINK}-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(temporary, latest)
