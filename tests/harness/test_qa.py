"""`run_qa`: gates in, a report folder with JSON, HTML and `latest` out."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from harness.core.paths import PROJECT_ROOT
from harness.core.runs import git_state, new_run_dir
from harness.core.stages import ALL_STAGES
from harness.gates.base import GateContext, GateResult
from harness.qa import QaOptionError, run_qa


class StaticGate:
    def __init__(self, name: str, status: str, proves: tuple[str, ...]) -> None:
        self.name, self.status, self.proves, self.stages = name, status, proves, ALL_STAGES

    def run(self, context: GateContext) -> GateResult:
        evidence = context.run_dir / f"{self.name}.log"
        evidence.write_text("tool output")
        return GateResult(self.status, f"{self.name} said {self.status}", (evidence,))  # type: ignore[arg-type]


def quiet() -> Console:
    return Console(file=io.StringIO())


def test_run_qa_writes_the_report_folder_and_latest(tmp_path: Path) -> None:
    outcome = run_qa("local", gates=[StaticGate("pytest", "passed", ("CQ-01",))], reports_dir=tmp_path, console=quiet())
    assert outcome.report.verdict == "pass"
    assert outcome.run_dir.parent == tmp_path
    document = json.loads((tmp_path / "latest" / "release-report.json").read_text())
    assert document["run_id"] == outcome.run_dir.name
    assert document["git_sha"] == git_state(PROJECT_ROOT)[0]
    entries = {entry["id"]: entry for entry in document["checklist"]}
    assert entries["CQ-01"]["status"] == "passed"
    assert entries["CQ-02"]["status"] == "pending"
    assert document["gates"][0]["evidence"] == ["pytest.log"]
    assert (tmp_path / "latest" / "release-report.html").exists()


def test_run_qa_fails_when_a_gate_fails(tmp_path: Path) -> None:
    outcome = run_qa(
        "local",
        gates=[StaticGate("pytest", "passed", ("CQ-01",)), StaticGate("mypy", "failed", ("CQ-02",))],
        reports_dir=tmp_path,
        console=quiet(),
    )
    assert outcome.report.verdict == "fail"
    assert "gate mypy failed" in outcome.report.verdict_reasons


def test_run_folders_are_unique_and_sortable(tmp_path: Path) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = new_run_dir(tmp_path, moment, "0123456789abcdef")
    second = new_run_dir(tmp_path, moment, "0123456789abcdef")
    assert first.name == "20260102T030405Z-01234567"
    assert second.name == "20260102T030405Z-01234567-2"


def test_git_state_outside_a_repository_is_unknown(tmp_path: Path) -> None:
    assert git_state(tmp_path) == ("unknown", False)


def test_git_state_sees_uncommitted_changes(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "file.txt").write_text("one")
    git("add", "file.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    sha, dirty = git_state(tmp_path)
    assert len(sha) == 40
    assert dirty is False
    (tmp_path / "file.txt").write_text("two")
    assert git_state(tmp_path) == (sha, True)


def test_a_failed_preflight_stops_every_other_gate(tmp_path: Path) -> None:
    gates = [StaticGate("preflight", "failed", ()), StaticGate("pytest", "passed", ("CQ-01",))]
    outcome = run_qa("local", gates=gates, reports_dir=tmp_path, console=quiet(), attestations={})
    runs = {run.name: run for run in outcome.report.gates}
    assert runs["pytest"].status == "skipped"
    assert "preflight failed" in runs["pytest"].detail
    assert outcome.report.verdict == "fail"


def test_skip_leaves_a_gate_out_and_marks_the_run_partial(tmp_path: Path) -> None:
    gates = [StaticGate("pytest", "passed", ("CQ-01",)), StaticGate("mypy", "failed", ("CQ-02",))]
    outcome = run_qa("local", gates=gates, reports_dir=tmp_path, console=quiet(), skip=["mypy"], attestations={})
    runs = {run.name: run for run in outcome.report.gates}
    assert runs["mypy"].status == "skipped"
    assert runs["mypy"].detail == "skipped on request (--skip)"
    assert outcome.report.partial == "gates skipped: mypy"
    assert outcome.report.verdict == "pass"  # a local partial run may pass; it says it is partial


def test_only_runs_the_gates_that_prove_the_section(tmp_path: Path) -> None:
    gates = [StaticGate("pytest", "passed", ("CQ-01",)), StaticGate("load", "failed", ("OPS-LOAD",))]
    outcome = run_qa(
        "local", gates=gates, reports_dir=tmp_path, console=quiet(), only_section="code quality", attestations={}
    )
    runs = {run.name: run for run in outcome.report.gates}
    assert runs["pytest"].status == "passed"
    assert runs["load"].status == "skipped"
    assert outcome.report.partial == "only section 'code quality'"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"skip": ["nope"]}, "--skip names no gate: nope; the gates are: pytest"),
        ({"only_section": "astrology"}, "no checklist section matches 'astrology'"),
    ],
)
def test_unknown_only_or_skip_is_refused_before_anything_runs(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    gates = [StaticGate("pytest", "passed", ("CQ-01",))]
    with pytest.raises(QaOptionError, match=message):
        run_qa("local", gates=gates, reports_dir=tmp_path, console=quiet(), **options)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())  # no half-made run folder


def test_recorded_sign_offs_become_attested_items(tmp_path: Path) -> None:
    outcome = run_qa(
        "local",
        gates=[StaticGate("pytest", "passed", ("CQ-01",))],
        reports_dir=tmp_path,
        console=quiet(),
        attestations={"SIGN-01": "Grace Hopper at 2026-11-25T10:00:00Z"},
    )
    entries = {entry.id: entry for entry in outcome.report.checklist}
    assert entries["SIGN-01"].status == "attested"
    assert entries["SIGN-02"].status == "pending"
