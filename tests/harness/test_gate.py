"""The gate runner: stage selection, timing, crash containment, running on after a failure."""

from __future__ import annotations

import threading
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


@dataclass
class MeetingGate:
    """Passes only if the barrier's other parties (gates) are running at the same time."""

    name: str
    barrier: threading.Barrier
    alongside: bool = True
    wait_s: float = 10.0
    stages: frozenset[Stage] = ALL_STAGES
    proves: tuple[str, ...] = ()

    def run(self, context: GateContext) -> GateResult:
        try:
            self.barrier.wait(timeout=self.wait_s)
        except threading.BrokenBarrierError:
            return GateResult("failed", "ran alone")
        return GateResult("passed", "ran alongside")


def test_neighbouring_alongside_gates_run_at_the_same_time_and_are_recorded_in_order(tmp_path: Path) -> None:
    barrier = threading.Barrier(3)
    gates = [MeetingGate(name, barrier) for name in ("mypy", "secrets", "audit")]
    events: list[str] = []
    runs = run_gates(
        [FakeGate("first", GateResult("passed", "")), *gates, FakeGate("last", GateResult("passed", ""))],
        context(tmp_path),
        on_start=lambda gate: events.append(f"start {gate.name}"),
        on_result=lambda run: events.append(f"{run.status} {run.name}"),
    )
    assert [(run.name, run.status) for run in runs] == [
        ("first", "passed"),
        ("mypy", "passed"),
        ("secrets", "passed"),
        ("audit", "passed"),
        ("last", "passed"),
    ]
    assert events == [
        "start first",
        "passed first",
        "start mypy",
        "start secrets",
        "start audit",
        "passed mypy",
        "passed secrets",
        "passed audit",
        "start last",
        "passed last",
    ]


def test_a_gate_not_alongside_runs_alone(tmp_path: Path) -> None:
    barrier = threading.Barrier(2)
    alone = MeetingGate("load", barrier, alongside=False, wait_s=0.5)
    runs = run_gates([MeetingGate("mypy", barrier, wait_s=0.5), alone], context(tmp_path))
    assert [(run.name, run.status) for run in runs] == [("mypy", "failed"), ("load", "failed")]


def test_a_held_gate_of_a_group_is_skipped_and_the_others_still_run(tmp_path: Path) -> None:
    barrier = threading.Barrier(2)
    gates = [MeetingGate("mypy", barrier), MeetingGate("secrets", barrier), MeetingGate("audit", barrier)]
    runs = run_gates(
        gates, context(tmp_path), hold=lambda gate, _: "skipped on request" if gate.name == "secrets" else None
    )
    assert [(run.name, run.status, run.detail) for run in runs] == [
        ("mypy", "passed", "ran alongside"),
        ("secrets", "skipped", "skipped on request"),
        ("audit", "passed", "ran alongside"),
    ]
