"""A cell of the fault matrix: one fault, what is checked after it, the checklist ids it bears on.

`run` injects the fault into the running lab and checks that nothing was lost and that the log tells
the truth; it returns what it saw (for the report) or raises CellFailed saying what went wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.gates.faults.lab import FaultLab


@dataclass(frozen=True)
class Cell:
    fault: str
    checked: str
    ids: tuple[str, ...]
    run: Callable[[FaultLab], str]
