"""The gate catches what the checklist's own implementation got wrong.

Each defect is applied to a copy of the service package; the local stack runs that copy, and the
release gate, run for the checklist item the defect breaks, must fail that item. The control test runs
the same scenarios against the real service, where they pass: the failure is the defect's doing.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from harness.core.paths import PROJECT_ROOT
from harness.gates.scenarios import ScenarioGate
from harness.qa import QaOutcome, run_qa
from tests.harness.defects import Defect
from tests.harness.defects.catalogue import all_defects

# e2e: starts copies of the service and full scenario gates of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e

SERVICE_PACKAGE = PROJECT_ROOT / "src" / "integration_service"


DEFECTS = all_defects()


def service_copy_with(defect: Defect, directory: Path) -> Path:
    copy = directory / "integration_service"
    shutil.copytree(SERVICE_PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / defect.file
    text = path.read_text(encoding="utf-8")
    for correct, broken in defect.replacements:
        # If the service's code moved on, the defect must be rewritten, not silently not applied.
        assert text.count(correct) == 1, f"{defect.name}: {defect.file} no longer holds {correct!r} exactly once"
        text = text.replace(correct, broken)
    path.write_text(text, encoding="utf-8")
    return copy


def gate_run(tmp_path: Path, server_url: str, ids: frozenset[str], service_source: Path | None) -> QaOutcome:
    gate = ScenarioGate(only_ids=ids, service_source=service_source, database_server_url=server_url)
    return run_qa(
        "local", gates=[gate], reports_dir=tmp_path / "reports", console=Console(file=io.StringIO()), attestations={}
    )


def statuses(outcome: QaOutcome) -> dict[str, str]:
    return {entry.id: entry.status for entry in outcome.report.checklist}


@pytest.mark.parametrize("defect", DEFECTS, ids=[defect.name for defect in DEFECTS])
def test_the_gate_fails_the_item_the_defect_breaks(defect: Defect, tmp_path: Path, database_server_url: str) -> None:
    broken = service_copy_with(defect, tmp_path / "service")
    outcome = gate_run(tmp_path, database_server_url, frozenset({defect.breaks}), broken)
    entry = next(entry for entry in outcome.report.checklist if entry.id == defect.breaks)
    assert entry.status == "failed", f"{defect.name} went unnoticed: {defect.breaks} is {entry.status}: {entry.detail}"
    assert outcome.report.verdict == "fail"


def test_the_same_scenarios_pass_on_the_real_service(tmp_path: Path, database_server_url: str) -> None:
    ids = frozenset(defect.breaks for defect in DEFECTS)
    outcome = gate_run(tmp_path, database_server_url, ids, None)
    found = statuses(outcome)
    assert {item: found[item] for item in sorted(ids)} == dict.fromkeys(sorted(ids), "passed"), outcome.report.gates
