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

from harness.checklist import ChecklistItem
from harness.gate import GateRun
from harness.stages import Stage

ItemStatus = Literal["passed", "failed", "skipped", "attested", "pending"]
Verdict = Literal["pass", "fail"]

JSON_NAME = "release-report.json"
HTML_NAME = "release-report.html"
LATEST_LINK = "latest"

_BLOCKING_GATE_STATUSES = frozenset({"failed", "error"})
# In staging and production only these item statuses let a release go ahead.
_RELEASABLE_ITEM_STATUSES = frozenset({"passed", "attested"})

VERDICT_RULES: dict[Stage, str] = {
    "local": (
        "local: pass when every gate that ran passed and no checklist item failed. Pending and skipped "
        "items are listed but do not block a local run: it checks a developer's tree, it does not "
        "approve a release."
    ),
    "staging": (
        "staging: pass only when every gate passed and every checklist item is passed or attested; "
        "a failed, skipped or pending item blocks the release."
    ),
    "production": (
        "production: pass only when every gate passed and every checklist item is passed or attested; "
        "a failed, skipped or pending item blocks the release."
    ),
}


@dataclass(frozen=True)
class ChecklistEntry:
    id: str
    section: str
    kind: str
    text: str
    status: ItemStatus
    scenarios: list[str]
    gates: list[str]
    detail: str


@dataclass(frozen=True)
class Benchmark:
    operation: str
    target_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    status: Literal["passed", "failed"]


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

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        for gate in document["gates"]:
            gate["proves"] = list(gate["proves"])
            gate["evidence"] = list(gate["evidence"])
        return document


def checklist_entry(item: ChecklistItem, gate_runs: list[GateRun]) -> ChecklistEntry:
    """An item's status from the gates that claim to prove it (scenarios join here later)."""
    provers = [run for run in gate_runs if item.id in run.proves]
    names = [run.name for run in provers]
    if not provers:
        return ChecklistEntry(
            id=item.id,
            section=item.section,
            kind=item.kind,
            text=item.text,
            status="pending",
            scenarios=[],
            gates=[],
            detail=_pending_detail(item),
        )
    statuses = Counter(run.status for run in provers)
    status: ItemStatus
    if statuses["failed"] or statuses["error"]:
        status = "failed"
        broken = [run.name for run in provers if run.status in _BLOCKING_GATE_STATUSES]
        detail = f"gate {', '.join(broken)} did not pass"
    elif statuses["passed"] == len(provers):
        status, detail = "passed", f"proved by gate {', '.join(names)}"
    else:
        status = "skipped"
        detail = f"gate {', '.join(run.name for run in provers if run.status == 'skipped')} did not run"
    return ChecklistEntry(
        id=item.id,
        section=item.section,
        kind=item.kind,
        text=item.text,
        status=status,
        scenarios=[],
        gates=names,
        detail=detail,
    )


def _pending_detail(item: ChecklistItem) -> str:
    if item.kind == "attest":
        return "not automated yet: needs a recorded human attestation, which the harness cannot record yet"
    if item.kind == "procedure":
        return "not automated yet: no Invoke task or scenario exercises this procedure"
    return "not automated yet: no gate or scenario checks this item"


def decide_verdict(stage: Stage, entries: list[ChecklistEntry], gate_runs: list[GateRun]) -> tuple[Verdict, list[str]]:
    """The verdict and every reason it is not `pass` (empty when it is)."""
    reasons = [f"gate {run.name} {run.status}" for run in gate_runs if run.status in _BLOCKING_GATE_STATUSES]
    failed_items = [entry.id for entry in entries if entry.status == "failed"]
    if failed_items:
        reasons.append(f"{len(failed_items)} checklist item(s) failed: {', '.join(failed_items)}")
    if stage != "local":
        unproved = Counter(entry.status for entry in entries if entry.status not in _RELEASABLE_ITEM_STATUSES)
        for status in ("pending", "skipped"):
            if unproved[status]:
                reasons.append(f"{unproved[status]} checklist item(s) {status}: not proved in stage {stage}")
    if not gate_runs:
        reasons.append("no gate ran: nothing was checked")
    return ("fail" if reasons else "pass"), reasons


def coverage_summary(entries: list[ChecklistEntry]) -> dict[str, Any]:
    statuses = Counter(entry.status for entry in entries)
    automated = sum(1 for entry in entries if entry.gates or entry.scenarios)
    return {
        "items": len(entries),
        "automated": automated,
        "by_status": {status: statuses[status] for status in ("passed", "failed", "skipped", "attested", "pending")},
        "summary": (f"{automated} of {len(entries)} checklist items automated yet; {statuses['pending']} pending"),
    }


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
) -> ReleaseReport:
    entries = [checklist_entry(item, gate_runs) for item in items]
    verdict, reasons = decide_verdict(stage, entries, gate_runs)
    notes = []
    if not benchmarks:
        notes.append("No benchmarks yet: the load gate (Locust) is not part of the QA job yet.")
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
    )


def render_html(report: ReleaseReport) -> str:
    environment = Environment(
        loader=PackageLoader("harness", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )
    sections: dict[str, list[ChecklistEntry]] = {}
    for entry in report.checklist:
        sections.setdefault(entry.section, []).append(entry)
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
