"""The fault matrix as a gate of the local stage: each cell a fault injected into a running stack of
its own, then "nothing lost, and the log telling the truth" checked against the sandbox and the database.

The cells run one after another on one stack; after each, the runner puts the stack back (database
and service running, no sandbox fault armed), so one failing cell cannot fail the next. The cells are
written to `<run>/faults/faults.json`, which the release report reads for its "Faults survived" table;
each is also handed to the report as an outcome carrying its checklist ids, so an id names the cell
that failed it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from harness.core.stages import Stage
from harness.gates.base import GateContext, GateResult
from harness.gates.faults.cells import Cell
from harness.gates.faults.lab import CellFailed, FaultLab, lab
from harness.gates.faults.load_cells import CONCURRENT_SYNCS, DATABASE_RESTART
from harness.gates.faults.sync_cells import CHANGED_DURING_SYNC, KILLED_MID_SYNC, PROVIDER_FAULTS, TOKEN_REVOKED
from harness.gates.faults.webhook_cells import DUPLICATED_AND_REORDERED
from harness.gates.scenario_results import ScenarioOutcome, StepOutcome

EVIDENCE_DIR = "faults"
EVIDENCE_NAME = "faults.json"
FEATURE = "Fault matrix"
# Every cell connects accounts of its own, so the order is free: the order, which the report keeps.
ALL_CELLS: tuple[Cell, ...] = (
    KILLED_MID_SYNC,
    DATABASE_RESTART,
    PROVIDER_FAULTS,
    TOKEN_REVOKED,
    DUPLICATED_AND_REORDERED,
    CONCURRENT_SYNCS,
    CHANGED_DURING_SYNC,
)


@dataclass(frozen=True)
class FaultCell:
    """One cell of the fault matrix (`harness.gates.faults`): the fault, what was checked after it, the result."""

    fault: str
    checked: str
    status: Literal["passed", "failed"]
    detail: str
    ids: tuple[str, ...] = ()  # the checklist ids it bears on
    duration_s: float = 0.0


@dataclass(frozen=True)
class FaultGate:
    name: str = "faults"
    stages: frozenset[Stage] = frozenset({"local"})
    cells: tuple[Cell, ...] = ALL_CELLS
    # Another copy of the service package to run (the defect tests): its parent goes first on PYTHONPATH.
    service_source: Path | None = None

    @property
    def proves(self) -> tuple[str, ...]:
        """What every cell bears on; a failing cell fails the gate, and the report names it under its ids."""
        return tuple(sorted({item for cell in self.cells for item in cell.ids}))

    def run(self, context: GateContext) -> GateResult:
        evidence_dir = context.run_dir / EVIDENCE_DIR
        with lab(evidence_dir, self._service_env()) as matrix:
            results = [run_cell(cell, matrix) for cell in self.cells]
        path = write_cells(results, evidence_dir / EVIDENCE_NAME)
        failed = [cell for cell in results if cell.status != "passed"]
        summary = f"{len(results)} faults: {len(results) - len(failed)} survived, {len(failed)} not"
        lines = [f"{cell.status}: {cell.fault}: {cell.detail}" for cell in results]
        logs = tuple(sorted(evidence_dir.glob("*.log")))
        return GateResult(
            "failed" if failed else "passed",
            "\n".join([summary, *lines]),
            (path, *logs),
            scenarios=tuple(as_outcome(cell) for cell in results),
        )

    def _service_env(self) -> dict[str, str]:
        if self.service_source is None:
            return {}
        paths = [str(self.service_source.parent), os.environ.get("PYTHONPATH", "")]
        return {"PYTHONPATH": os.pathsep.join(path for path in paths if path)}


def run_cell(cell: Cell, matrix: FaultLab) -> FaultCell:
    started = time.monotonic()
    status: Literal["passed", "failed"] = "failed"
    try:
        status, detail = "passed", cell.run(matrix)
    except CellFailed as failure:
        status, detail = "failed", str(failure)
    except Exception as exc:  # a crashing cell is a failed cell; the others still run
        status, detail = "failed", f"the cell crashed: {type(exc).__name__}: {exc}"
    finally:
        recover(matrix)
    return FaultCell(cell.fault, cell.checked, status, detail, cell.ids, round(time.monotonic() - started, 1))


def recover(matrix: FaultLab) -> None:
    """The stack as the next cell expects it, whatever this one left behind."""
    if not matrix.database_running():
        matrix.start_database()
    if not matrix.service_alive():
        matrix.start_service()
    matrix.reset_between_cells()


def as_outcome(cell: FaultCell) -> ScenarioOutcome:
    return ScenarioOutcome(
        feature=FEATURE,
        name=cell.fault,
        tags=cell.ids,
        status=cell.status,
        steps=(StepOutcome(f"Checked: {cell.checked}", cell.status),),
        failure="" if cell.status == "passed" else cell.detail,
    )


def write_cells(cells: Sequence[FaultCell], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(cell) for cell in cells], indent=2) + "\n", encoding="utf-8")
    return path


def collect_faults(run_dir: Path) -> list[FaultCell]:
    """The cells the fault gate left in `<run>/faults/` (empty when it did not run), for the report."""
    path = run_dir / EVIDENCE_DIR / EVIDENCE_NAME
    if not path.exists():
        return []
    return [
        FaultCell(**{**record, "ids": tuple(record["ids"])}) for record in json.loads(path.read_text(encoding="utf-8"))
    ]
