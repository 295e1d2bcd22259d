"""What earlier gates of the same commit proved, and what of it counts in this run's stage.

An item's `scope` (features/checklist.yaml) says what it is about. A `code` item is about the commit: the
local gate (a developer's or CI's) proves it once, and staging and production count that proof for the
same commit, naming the run. A `deployment` item is about a running stage and must be proved on that
stage; production, which only runs read-only scenarios, counts what the passing staging run of the same
commit proved. Nothing else is ever carried: a deployment item proved only locally stays unproved.

Earlier runs are found in the reports folder (this machine's runs), in report files handed over as CI
artefacts (`invoke qa --carry-from PATH`), and in the stage's gate store, which every runner of the stage
can read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.checklist import ChecklistItem
from harness.core.stages import Stage

REPORT_NAME = "release-report.json"

# Looks up the newest passing result of (commit, stage) in a gate store; None when it has none.
StoreLookup = Callable[[str, Stage], dict[str, Any] | None]


@dataclass(frozen=True)
class EarlierRun:
    """A passing, complete gate run of this commit, and where it was found."""

    run_id: str
    stage: str
    origin: str
    document: dict[str, Any]

    def passed_entries(self) -> dict[str, dict[str, Any]]:
        return {entry["id"]: entry for entry in self.document.get("checklist", []) if entry.get("status") == "passed"}

    def name(self) -> str:
        return f"{self.stage} run {self.run_id} ({self.origin})"


def counts_for(document: dict[str, Any], git_sha: str, stage: Stage) -> bool:
    """A run proves something for a commit only if it passed, ran in full, and ran that commit unmodified."""
    return (
        document.get("stage") == stage
        and document.get("verdict") == "pass"
        and document.get("git_sha") == git_sha
        and not document.get("git_dirty", False)
        and not document.get("partial")
    )


def report_files(reports_dir: Path, carry_from: Sequence[Path] = ()) -> Iterable[tuple[Path, str]]:
    """Every release report to consider: those handed over first (a file or a run folder), then this
    machine's runs."""
    for given in carry_from:
        path = given / REPORT_NAME if given.is_dir() else given
        yield path, f"artefact {path}"
    for path in sorted(reports_dir.glob(f"*/{REPORT_NAME}")):
        yield path, f"reports/{path.parent.name}"


def find_earlier_run(
    git_sha: str,
    stage: Stage,
    *,
    reports_dir: Path,
    carry_from: Sequence[Path] = (),
    store: StoreLookup | None = None,
) -> EarlierRun | None:
    """The newest passing, complete `stage` run of `git_sha`, from any of the three places."""
    found: list[EarlierRun] = []
    for path, origin in report_files(reports_dir, carry_from):
        document = _read(path)
        if document is not None and counts_for(document, git_sha, stage):
            found.append(EarlierRun(str(document.get("run_id")), stage, origin, document))
    stored = store(git_sha, stage) if store is not None else None
    if stored is not None and counts_for(stored, git_sha, stage):
        found.append(EarlierRun(str(stored.get("run_id")), stage, "gate store", stored))
    return max(found, key=lambda run: run.run_id, default=None)


def carried_proofs(
    stage: Stage,
    items: Sequence[ChecklistItem],
    commit_run: EarlierRun | None,
    staging_run: EarlierRun | None = None,
) -> dict[str, str]:
    """Checklist id → why it counts as proved in `stage` without a proof of this run. Local carries
    nothing: it is where a commit's proofs are made."""
    if stage == "local":
        return {}
    carried: dict[str, str] = {}
    code = {item.id for item in items if item.scope == "code"}
    deployment = {item.id for item in items if item.scope == "deployment" and item.kind != "attest"}
    # Code proofs from the commit's own gate; production may also take them from staging, which carried them.
    sources = [run for run in (commit_run, staging_run if stage == "production" else None) if run is not None]
    for run in sources:
        for item_id, entry in run.passed_entries().items():
            if item_id in code and item_id not in carried:
                carried[item_id] = f"code item, carried from {run.name()} of this commit: {entry.get('detail', '')}"
    if stage == "production" and staging_run is not None:
        for item_id, entry in staging_run.passed_entries().items():
            if item_id in deployment:
                carried[item_id] = f"carried from {staging_run.name()} of this commit: {entry.get('detail', '')}"
    return carried


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None
