"""The gate runner: a release gate is a list of small gate objects run in order for one stage.

A gate has a name, the stages it runs in, the checklist ids its success proves, and `run()`. The
runner times each gate and turns a crash into an `error` result, so one broken gate cannot hide the
others' results or stop the report from being written.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from harness.core.stages import Stage
from harness.gates.scenario_results import ScenarioOutcome

GateStatus = Literal["passed", "failed", "skipped", "error"]


@dataclass(frozen=True)
class GateContext:
    """What every gate may rely on: the stage, the run's folder for evidence, the project root."""

    stage: Stage
    run_dir: Path
    project_root: Path


@dataclass(frozen=True)
class GateResult:
    """What `Gate.run` returns. `evidence` are files (in the run folder) that back the result."""

    status: GateStatus
    detail: str
    evidence: tuple[Path, ...] = ()
    scenarios: tuple[ScenarioOutcome, ...] = ()  # the scenario gate: each scenario with the ids it carries


class Gate(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def stages(self) -> frozenset[Stage]: ...

    @property
    def proves(self) -> tuple[str, ...]:
        """Checklist ids that this gate passing proves (and its failing fails)."""
        ...

    def run(self, context: GateContext) -> GateResult: ...


@dataclass(frozen=True)
class GateRun:
    """One gate's recorded outcome, as the report shows it."""

    name: str
    status: GateStatus
    duration_s: float
    detail: str
    proves: tuple[str, ...] = ()
    evidence: tuple[str, ...] = field(default=())  # paths relative to the run folder
    scenarios: tuple[ScenarioOutcome, ...] = ()
    # False when the gate is not part of this stage's gate (e.g. the fault matrix on staging): its
    # skipping then says nothing about the items it proves elsewhere.
    applies: bool = True


def skipped_run(gate: Gate, detail: str, applies: bool = True) -> GateRun:
    return GateRun(name=gate.name, status="skipped", duration_s=0.0, proves=gate.proves, detail=detail, applies=applies)


def run_gate(gate: Gate, context: GateContext) -> GateRun:
    if context.stage not in gate.stages:
        detail = f"not part of the {context.stage} gate (runs in: {', '.join(sorted(gate.stages))})"
        return skipped_run(gate, detail, applies=False)
    started = time.monotonic()
    try:
        result = gate.run(context)
    except Exception as exc:  # a crashing gate is reported, not propagated: the report must be written
        detail = f"the gate crashed: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        result = GateResult(status="error", detail=detail)
    return GateRun(
        name=gate.name,
        status=result.status,
        duration_s=round(time.monotonic() - started, 3),
        detail=result.detail,
        proves=gate.proves,
        evidence=tuple(_relative(path, context.run_dir) for path in result.evidence),
        scenarios=result.scenarios,
    )


def run_gates(
    gates: Iterable[Gate],
    context: GateContext,
    on_start: Callable[[Gate], None] | None = None,
    on_result: Callable[[GateRun], None] | None = None,
    hold: Callable[[Gate, list[GateRun]], str | None] | None = None,
) -> list[GateRun]:
    """Every gate runs, even after a failure: the report should show everything that is wrong.

    `hold(gate, runs so far)` may return why a gate must not run (a failed preflight, `--skip`); the
    gate is then recorded as skipped with that reason. Neighbouring gates that say `alongside = True`
    (checks of the checkout that start no stack and share no files) run at the same time; their results
    are recorded in their order, as if they had run one after the other.
    """
    runs: list[GateRun] = []
    for group in _groups(list(gates)):
        reasons = [hold(gate, runs) if hold is not None else None for gate in group]
        for gate, reason in zip(group, reasons, strict=True):
            if reason is None and on_start is not None:
                on_start(gate)
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            pending = [
                None if reason is not None else pool.submit(run_gate, gate, context)
                for gate, reason in zip(group, reasons, strict=True)
            ]
            for gate, reason, future in zip(group, reasons, pending, strict=True):
                outcome = future.result() if future is not None else skipped_run(gate, reason or "held")
                if on_result is not None:
                    on_result(outcome)
                runs.append(outcome)
    return runs


def _groups(gates: list[Gate]) -> list[list[Gate]]:
    """The gates in order, neighbours that may run alongside each other grouped."""
    groups: list[list[Gate]] = []
    for gate in gates:
        alongside = getattr(gate, "alongside", False)
        if alongside and groups and getattr(groups[-1][-1], "alongside", False):
            groups[-1].append(gate)
        else:
            groups.append([gate])
    return groups


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)
