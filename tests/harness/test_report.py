"""The release report: its JSON shape, its completeness, its HTML escaping and its verdict rules."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

import pytest
from markupsafe import escape

from harness.core.checklist import CHECKLIST_PATH, ChecklistItem, load_checklist
from harness.core.stages import STAGES, Stage
from harness.gates.base import GateRun, GateStatus
from harness.gates.scenario_results import ScenarioOutcome, StepOutcome
from harness.report.release import (
    ReleaseReport,
    build_report,
    checklist_entry,
    decide_verdict,
    write_report,
)

ITEMS = [
    ChecklistItem(id="CQ-01", section="Code Quality", kind="check", text="All tests pass"),
    ChecklistItem(id="CQ-03", section="Code Quality", kind="check", text="Linter passes"),
    ChecklistItem(id="SIGN-01", section="Sign-Off", kind="attest", text="QA approved"),
]


def gate(name: str, status: GateStatus, proves: tuple[str, ...] = ()) -> GateRun:
    return GateRun(name=name, status=status, duration_s=1.5, detail=f"{name} {status}", proves=proves)


def report_for(stage: Stage, runs: list[GateRun], items: list[ChecklistItem] = ITEMS) -> ReleaseReport:
    return build_report(
        run_id="20260101T000000Z-abc",
        stage=stage,
        git_sha="abc123",
        git_dirty=False,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:01:00+00:00",
        items=items,
        gate_runs=runs,
    )


def test_json_has_the_designed_shape_and_every_checklist_id(tmp_path: Path) -> None:
    items = load_checklist(CHECKLIST_PATH)
    report = report_for("local", [gate("pytest", "passed", ("CQ-01",))], items)
    json_path, html_path = write_report(report, tmp_path / "run-1")

    document = json.loads(json_path.read_text())
    assert {"stage", "git_sha", "verdict", "checklist", "gates", "benchmarks"} <= document.keys()
    assert document["stage"] == "local"
    assert document["verdict"] in ("pass", "fail")
    assert [entry["id"] for entry in document["checklist"]] == [item.id for item in items]
    for entry in document["checklist"]:
        assert {"id", "status", "scenarios", "detail"} <= entry.keys()
        assert entry["status"] in ("passed", "failed", "skipped", "attested", "pending", "waived")
    assert document["gates"] == [
        {
            "name": "pytest",
            "status": "passed",
            "duration_s": 1.5,
            "detail": "pytest passed",
            "proves": ["CQ-01"],
            "evidence": [],
            "scenarios": 0,
            "applies": True,
        }
    ]
    assert document["benchmarks"] == []
    assert html_path.exists()


def test_an_item_nothing_proves_is_pending_never_passed() -> None:
    report = report_for("local", [gate("ruff", "passed", ("CQ-03",))])
    statuses = {entry.id: (entry.status, entry.detail) for entry in report.checklist}
    assert statuses["CQ-03"][0] == "passed"
    assert statuses["CQ-01"][0] == "pending"
    assert "nothing ran that proves it in stage local" in statuses["CQ-01"][1]
    assert statuses["SIGN-01"][0] == "pending"
    assert "no attestation recorded" in statuses["SIGN-01"][1]
    assert report.coverage["automated"] == 1
    assert report.coverage["summary"] == ("1 of 3 checklist items passed, 0 attested, 0 failed, 0 skipped, 2 pending")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["passed", "passed"], "passed"),
        (["passed", "failed"], "failed"),
        (["error"], "failed"),
        (["passed", "skipped"], "skipped"),
    ],
)
def test_an_item_takes_the_worst_status_of_the_gates_that_prove_it(statuses: list[GateStatus], expected: str) -> None:
    runs = [gate(f"gate-{n}", status, ("CQ-01",)) for n, status in enumerate(statuses)]
    assert checklist_entry(ITEMS[0], runs).status == expected


def test_local_passes_with_pending_items_when_every_gate_passed() -> None:
    report = report_for("local", [gate("pytest", "passed", ("CQ-01",))])
    assert report.verdict == "pass"
    assert report.verdict_reasons == []
    assert "do not block" in report.verdict_rule


@pytest.mark.parametrize("failing", ["failed", "error"])
def test_a_failed_gate_fails_the_verdict_in_every_stage(failing: GateStatus) -> None:
    for stage in STAGES:
        report = report_for(stage, [gate("pytest", "passed", ("CQ-01",)), gate("mypy", failing)])
        assert report.verdict == "fail"
        assert f"gate mypy {failing}" in report.verdict_reasons


def test_a_failed_item_fails_the_verdict() -> None:
    verdict, reasons = decide_verdict(
        "local", [checklist_entry(ITEMS[0], [gate("pytest", "failed", ("CQ-01",))])], [gate("x", "passed")]
    )
    assert verdict == "fail"
    assert any("CQ-01" in reason for reason in reasons)


@pytest.mark.parametrize("stage", ["staging", "production"])
def test_pending_checks_block_a_release_stage(stage: Stage) -> None:
    report = report_for(stage, [gate("pytest", "passed", ("CQ-01",))])  # CQ-03 pending
    assert report.verdict == "fail"
    # and SIGN-01, whose sign-off only production needs
    expected = "2 checklist item(s) pending, not proved in stage production: CQ-03, SIGN-01"
    if stage == "staging":
        expected = "1 checklist item(s) pending, not proved in stage staging: CQ-03"
    assert report.verdict_reasons == [expected]


def test_sign_offs_are_needed_in_production_not_in_staging() -> None:
    runs = [gate("pytest", "passed", ("CQ-01",)), gate("ruff", "passed", ("CQ-03",))]
    assert report_for("staging", runs).verdict == "pass"
    production = report_for("production", runs)
    assert production.verdict == "fail"
    assert production.verdict_reasons == ["1 checklist item(s) pending, not proved in stage production: SIGN-01"]


def test_release_stage_passes_only_when_every_item_is_proved() -> None:
    items = ITEMS[:2]
    report = report_for("production", [gate("pytest", "passed", ("CQ-01",)), gate("ruff", "passed", ("CQ-03",))], items)
    assert report.verdict == "pass"


def test_no_gate_at_all_is_not_a_pass() -> None:
    assert report_for("local", []).verdict == "fail"


def test_html_escapes_values_and_needs_nothing_from_outside(tmp_path: Path) -> None:
    hostile = "<script>alert('x')</script>"
    items = [ChecklistItem(id="CQ-01", section="Code <b>Quality</b>", kind="check", text=hostile)]
    report = report_for("local", [gate("pytest", "failed", ("CQ-01",))], items)
    report.gates[0] = GateRun(name="pytest", status="failed", duration_s=1.0, detail=hostile, proves=("CQ-01",))
    _, html_path = write_report(report, tmp_path / "run")

    html = html_path.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Code &lt;b&gt;Quality&lt;/b&gt;" in html
    # Self-contained: no stylesheet, script or font fetched from elsewhere.
    assert "http://" not in html
    assert "https://" not in html
    assert "FAIL" in html
    assert str(escape(report.verdict_rule)) in html


def test_latest_points_at_the_newest_run(tmp_path: Path) -> None:
    report = report_for("local", [gate("pytest", "passed", ("CQ-01",))])
    write_report(report, tmp_path / "run-1")
    write_report(report, tmp_path / "run-2")
    latest = tmp_path / "latest"
    assert latest.is_symlink()
    assert latest.resolve() == (tmp_path / "run-2").resolve()
    assert (latest / "release-report.json").exists()


def scenario(name: str, status: str, tags: tuple[str, ...], failure: str = "") -> ScenarioOutcome:
    steps = (StepOutcome("Given a thing", "passed"), StepOutcome("Then it holds", status))
    return ScenarioOutcome(feature="x.feature", name=name, tags=tags, status=status, steps=steps, failure=failure)


def scenario_gate(*outcomes: ScenarioOutcome) -> GateRun:
    failed = any(outcome.status == "failed" for outcome in outcomes)
    return GateRun("scenarios", "failed" if failed else "passed", 2.0, "", scenarios=outcomes)


def test_an_item_takes_its_status_from_the_scenarios_tagged_with_it() -> None:
    runs = [
        scenario_gate(scenario("tests green", "passed", ("CQ-01", "local")), scenario("lint", "failed", ("CQ-03",)))
    ]
    passed, failed = checklist_entry(ITEMS[0], runs), checklist_entry(ITEMS[1], runs)
    assert (passed.status, failed.status) == ("passed", "failed")
    assert [evidence.name for evidence in passed.scenarios] == ["tests green"]
    assert "scenario failed: lint" in failed.detail
    assert failed.scenarios[0].steps[-1] == {"text": "Then it holds", "status": "failed"}


def test_a_passing_gate_does_not_hide_a_failing_scenario() -> None:
    runs = [gate("pytest", "passed", ("CQ-01",)), scenario_gate(scenario("tests green", "failed", ("CQ-01",)))]
    assert checklist_entry(ITEMS[0], runs).status == "failed"


def test_a_skipped_scenario_leaves_the_item_skipped_with_the_reason() -> None:
    runs = [scenario_gate(scenario("junit read", "skipped", ("CQ-01",), failure="the pytest gate did not run"))]
    entry = checklist_entry(ITEMS[0], runs)
    assert entry.status == "skipped"
    assert "the pytest gate did not run" in entry.detail


def test_an_attest_item_is_attested_only_by_a_recorded_attestation() -> None:
    runs = [scenario_gate(scenario("sign-off recorded and required", "passed", ("SIGN-01",)))]
    pending = checklist_entry(ITEMS[2], runs)
    attested = checklist_entry(ITEMS[2], runs, attestation="Ada Lovelace at 2026-01-01T00:00:00+00:00")
    assert pending.status == "pending"
    assert "recording and the gating were checked" in pending.detail
    assert attested.status == "attested"
    assert "Ada Lovelace" in attested.detail


def test_local_verdict_is_not_blocked_by_unattested_items() -> None:
    report = report_for("local", [gate("pytest", "passed", ("CQ-01",)), gate("ruff", "passed", ("CQ-03",))])
    assert report.verdict == "pass"


def test_a_partial_run_says_so_and_never_approves_a_release() -> None:
    runs = [gate("pytest", "passed", ("CQ-01",)), gate("ruff", "passed", ("CQ-03",))]
    attested = {"SIGN-01": "Ada at noon"}
    local = build_report(**common_fields("local"), items=ITEMS, gate_runs=runs, attestations=attested, partial="only x")
    production = build_report(
        **common_fields("production"), items=ITEMS, gate_runs=runs, attestations=attested, partial="only x"
    )
    assert local.verdict == "pass"
    assert local.partial == "only x"
    assert any("Partial run" in note for note in local.notes)
    assert production.verdict == "fail"
    assert "partial run (only x): it cannot approve a release" in production.verdict_reasons


def test_html_shows_scenarios_with_their_steps_and_failure(tmp_path: Path) -> None:
    runs = [scenario_gate(scenario("lint <clean>", "failed", ("CQ-03",), failure="assert 'E501' == ''"))]
    _, html_path = write_report(report_for("local", runs), tmp_path / "run")
    html = html_path.read_text()
    assert "lint &lt;clean&gt;" in html
    assert "Then it holds — failed" in html
    assert "assert &#39;E501&#39; == &#39;&#39;" in html


class CommonFields(TypedDict):
    """The fields of `build_report` that say which run this is."""

    run_id: str
    stage: Stage
    git_sha: str
    git_dirty: bool
    started_at: str
    finished_at: str


def common_fields(stage: Stage) -> CommonFields:
    return {
        "run_id": "r",
        "stage": stage,
        "git_sha": "abc",
        "git_dirty": False,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
    }


def test_an_item_of_another_stages_verdict_is_not_judged_and_neither_proves_nor_blocks() -> None:
    production_only = ChecklistItem("OPS-PRD-DEPLOY", "Production Deployment", "procedure", "Deploy", "deployment")
    production_only = replace(production_only, judged_in=frozenset({"local", "production"}))
    items = [*ITEMS[:2], production_only]
    runs = [gate("pytest", "passed", ("CQ-01",)), gate("ruff", "passed", ("CQ-03",))]
    staging = report_for("staging", runs, items)
    entry = next(entry for entry in staging.checklist if entry.id == "OPS-PRD-DEPLOY")
    assert entry.status == "not_judged"
    assert "judged in local, production" in entry.detail
    assert staging.verdict == "pass"
    production = report_for("production", runs, items)
    assert production.verdict == "fail"  # on production it is judged, and nothing proved it
    assert "OPS-PRD-DEPLOY" in production.verdict_reasons[0]


def test_a_gate_that_is_not_part_of_the_stage_does_not_leave_its_items_skipped() -> None:
    outside = replace(gate("faults", "skipped", ("CQ-03",)), applies=False)
    scenarios = scenario_gate(scenario("ruff clean", "passed", ("CQ-03",)))
    entry = next(e for e in report_for("staging", [outside, scenarios]).checklist if e.id == "CQ-03")
    assert entry.status == "passed", entry.detail
    held = gate("faults", "skipped", ("CQ-03",))  # part of the stage, but did not run: the item is not proved
    entry = next(e for e in report_for("staging", [held, scenarios]).checklist if e.id == "CQ-03")
    assert entry.status == "skipped", entry.detail
