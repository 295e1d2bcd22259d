"""What earlier gates of a commit prove on staging and production (`harness.core.proofs`), and waivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.checklist import ChecklistItem
from harness.core.proofs import EarlierRun, carried_proofs, find_earlier_run
from harness.core.stages import Stage
from harness.gates.base import GateRun
from harness.report.release import ReleaseReport, Waiver, build_report, write_report

SHA = "0123456789abcdef0123456789abcdef01234567"
ITEMS = [
    ChecklistItem(id="CQ-01", section="Code Quality", kind="check", text="All tests pass", scope="code"),
    ChecklistItem(id="XERO-02", section="Xero", kind="check", text="Invoices sync correctly"),
    ChecklistItem(id="SEC-04", section="Security", kind="check", text="Rate limiting implemented"),
    ChecklistItem(id="SIGN-01", section="Sign-Off", kind="attest", text="QA Lead"),
]


def gate(name: str, status: str, proves: tuple[str, ...]) -> GateRun:
    return GateRun(name=name, status=status, duration_s=1.0, detail=f"{name} {status}", proves=proves)  # type: ignore[arg-type]


def report(
    stage: Stage,
    runs: list[GateRun],
    *,
    run_id: str = "20260101T000000Z-01234567",
    sha: str = SHA,
    dirty: bool = False,
    carried: dict[str, str] | None = None,
    waivers: list[Waiver] | None = None,
    partial: str | None = None,
) -> ReleaseReport:
    return build_report(
        run_id=run_id,
        stage=stage,
        git_sha=sha,
        git_dirty=dirty,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:01:00+00:00",
        items=ITEMS,
        gate_runs=runs,
        attestations={"SIGN-01": "Ada"} if stage == "production" else {},
        carried=carried,
        waivers=waivers,
        partial=partial,
    )


LOCAL_PROVES_ALL = [gate("pytest", "passed", ("CQ-01",)), gate("scenarios", "passed", ("XERO-02", "SEC-04"))]


def local_run(tmp_path: Path, **overrides: object) -> EarlierRun | None:
    write_report(report("local", LOCAL_PROVES_ALL, **overrides), tmp_path / "reports" / "local-run")  # type: ignore[arg-type]
    return find_earlier_run(SHA, "local", reports_dir=tmp_path / "reports")


def statuses(done: ReleaseReport) -> dict[str, str]:
    return {entry.id: entry.status for entry in done.checklist}


def test_staging_counts_code_items_from_the_commits_local_gate_and_names_the_run(tmp_path: Path) -> None:
    carried = carried_proofs("staging", ITEMS, local_run(tmp_path))
    assert set(carried) == {"CQ-01"}, "only code items carry: deployment items must be proved on staging"
    staging = report("staging", [gate("scenarios", "passed", ("XERO-02", "SEC-04"))], carried=carried)
    entry = next(entry for entry in staging.checklist if entry.id == "CQ-01")
    assert entry.status == "passed"
    assert "local run 20260101T000000Z-01234567" in entry.detail
    assert staging.verdict == "pass", staging.verdict_reasons


def test_staging_fails_when_a_deployment_item_is_only_proved_locally(tmp_path: Path) -> None:
    carried = carried_proofs("staging", ITEMS, local_run(tmp_path))
    staging = report("staging", [gate("scenarios", "passed", ("XERO-02",))], carried=carried)
    assert statuses(staging)["SEC-04"] == "pending"
    assert staging.verdict == "fail"
    assert any("SEC-04" in reason for reason in staging.verdict_reasons)


def test_staging_fails_when_a_deployment_item_fails_on_the_stage(tmp_path: Path) -> None:
    carried = carried_proofs("staging", ITEMS, local_run(tmp_path))
    staging = report(
        "staging", [gate("scenarios", "passed", ("XERO-02",)), gate("rate", "failed", ("SEC-04",))], carried=carried
    )
    assert statuses(staging)["SEC-04"] == "failed"
    assert staging.verdict == "fail"


@pytest.mark.parametrize(
    "overrides",
    [{"dirty": True}, {"sha": "f" * 40}, {"partial": "only section 'Xero'"}],
    ids=["uncommitted-changes", "another-commit", "partial-run"],
)
def test_a_run_that_does_not_prove_this_commit_carries_nothing(tmp_path: Path, overrides: dict[str, object]) -> None:
    assert local_run(tmp_path, **overrides) is None


def test_a_failing_local_run_carries_nothing(tmp_path: Path) -> None:
    write_report(report("local", [gate("pytest", "failed", ("CQ-01",))]), tmp_path / "reports" / "r")
    assert find_earlier_run(SHA, "local", reports_dir=tmp_path / "reports") is None


def test_a_ci_artefact_and_the_gate_store_are_found_too(tmp_path: Path) -> None:
    artefact_dir = tmp_path / "artefact"
    write_report(report("local", LOCAL_PROVES_ALL, run_id="20260102T000000Z-a"), artefact_dir)
    found = find_earlier_run(SHA, "local", reports_dir=tmp_path / "none", carry_from=[artefact_dir])
    assert found is not None
    assert found.origin.startswith("artefact ")

    stored = report("local", LOCAL_PROVES_ALL, run_id="20260103T000000Z-b").to_json()

    def store(commit: str, stage: Stage) -> dict[str, object] | None:
        return stored if (commit, stage) == (SHA, "local") else None

    newest = find_earlier_run(SHA, "local", reports_dir=tmp_path / "none", carry_from=[artefact_dir], store=store)
    assert newest is not None
    assert (newest.origin, newest.run_id) == ("gate store", "20260103T000000Z-b")


def test_production_carries_deployment_items_from_staging_and_code_items_from_the_commit(tmp_path: Path) -> None:
    staging_doc = report(
        "staging",
        [gate("scenarios", "passed", ("XERO-02", "SEC-04"))],
        carried=carried_proofs("staging", ITEMS, local_run(tmp_path)),
    )
    write_report(staging_doc, tmp_path / "reports" / "staging-run")
    staging = find_earlier_run(SHA, "staging", reports_dir=tmp_path / "reports")
    assert staging is not None
    carried = carried_proofs("production", ITEMS, None, staging)
    assert set(carried) == {"CQ-01", "XERO-02", "SEC-04"}
    production = report("production", [gate("scenarios", "passed", ("XERO-02",))], carried=carried)
    assert production.verdict == "pass", production.verdict_reasons
    by_id = {entry.id: entry for entry in production.checklist}
    assert by_id["XERO-02"].detail.startswith("proved by"), "what production proved itself is not carried"
    assert "staging run" in by_id["SEC-04"].detail


def test_local_carries_nothing(tmp_path: Path) -> None:
    assert carried_proofs("local", ITEMS, local_run(tmp_path)) == {}


def test_a_waiver_lets_an_unproved_item_pass_by_name_never_a_failed_one() -> None:
    waiver = Waiver(id="SEC-04", reason="no burst allowed on this stage", by="ci:alice")
    runs = [gate("pytest", "passed", ("CQ-01",)), gate("scenarios", "passed", ("XERO-02",))]
    waived = report("staging", runs, waivers=[waiver])
    entry = next(entry for entry in waived.checklist if entry.id == "SEC-04")
    assert entry.status == "waived"
    assert "ci:alice" in entry.detail
    assert "no burst allowed" in entry.detail
    assert waived.verdict == "pass", waived.verdict_reasons
    assert any("Waived: SEC-04" in note for note in waived.notes)

    failed = report("staging", [*runs, gate("rate", "failed", ("SEC-04",))], waivers=[waiver])
    assert statuses(failed)["SEC-04"] == "failed"
    assert failed.verdict == "fail"
