"""The defect catalogue: each defect, applied to a copy of the service, must turn its checklist id red.

One module per area, so that the catalogue grows without everyone editing one tuple;
`ALL_DEFECTS` is what `tests/harness/test_defect_injection.py` runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defect:
    name: str
    file: str  # under src/integration_service
    replacements: tuple[tuple[str, str], ...]  # (correct code, broken code), each found exactly once
    breaks: str  # the checklist id whose scenarios must fail
