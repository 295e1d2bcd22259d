"""The gate runner: stage selection, timing, crash containment, running on after a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.core.stages import ALL_STAGES, Stage
from harness.gates.base import GateContext, GateResult, run_gates


@dataclass
class FakeGate:
    name: str
    outcome: GateResult | Exception
    stages: frozenset[Stage] = ALL_STAGES
    proves: tuple[str, ...] = ("CQ-01",)
    calls: list[GateContext] = field(default_factory=list)

    def run(self, context: GateContext) -> GateResult:
        self.calls.append(context)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def context(tmp_path: Path, stage: Stage = "local") -> GateContext:
    return GateContext(stage=stage, run_dir=tmp_path, project_root=tmp_path)


def test_every_gate_runs_even_after_one_fails(tmp_path: Path) -> None:
    first = FakeGate("first", GateResult("failed", "broken"))
    second = FakeGate("second", GateResult("passed", "fine"))
    runs = run_gates([first, second], context(tmp_path))
    assert [(run.name, run.status, run.detail) for run in runs] == [
        ("first", "failed", "broken"),
        ("second", "passed", "fine"),
    ]
    assert len(second.calls) == 1
    assert all(run.duration_s >= 0 for run in runs)


def test_a_crashing_gate_becomes_an_error_result(tmp_path: Path) -> None:
    runs = run_gates([FakeGate("crashy", RuntimeError("disk on fire"))], context(tmp_path))
    assert runs[0].status == "error"
    assert "RuntimeError: disk on fire" in runs[0].detail
    assert runs[0].proves == ("CQ-01",)


def test_a_gate_outside_its_stages_is_skipped_without_running(tmp_path: Path) -> None:
    production_only = FakeGate("rollback", GateResult("passed", ""), stages=frozenset({"production"}))
    runs = run_gates([production_only], context(tmp_path, "local"))
    assert runs[0].status == "skipped"
    assert "production" in runs[0].detail
    assert production_only.calls == []


def test_evidence_is_recorded_relative_to_the_run_folder(tmp_path: Path) -> None:
    log = tmp_path / "tool.log"
    log.write_text("output")
    runs = run_gates([FakeGate("tool", GateResult("passed", "", (log,)))], context(tmp_path))
    assert runs[0].evidence == ("tool.log",)


def test_callbacks_see_each_gate_start_and_finish(tmp_path: Path) -> None:
    events: list[str] = []
    run_gates(
        [FakeGate("a", GateResult("passed", "")), FakeGate("b", GateResult("failed", ""))],
        context(tmp_path),
        on_start=lambda gate: events.append(f"start {gate.name}"),
        on_result=lambda run: events.append(f"{run.status} {run.name}"),
    )
    assert events == ["start a", "passed a", "start b", "failed b"]
