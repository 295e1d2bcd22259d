"""The fault matrix gate: its cells survive on the real service, a defect of the kind a cell guards makes
that cell fail, and the report shows the cells in its "Faults survived" table.

The cells are not checklist scenarios, so their defects live here rather than in the scenario gate's
catalogue (tests/harness/defects/faults.py stays empty): each is applied to a copy of the service, which
the matrix's stack then runs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from harness.gates.base import GateContext
from harness.gates.faults.cells import Cell
from harness.gates.faults.gate import ALL_CELLS, FaultCell, FaultGate, collect_faults, write_cells
from harness.gates.faults.load_cells import DATABASE_RESTART
from harness.gates.faults.sync_cells import PROVIDER_FAULTS, TOKEN_REVOKED
from harness.gates.faults.webhook_cells import DUPLICATED_AND_REORDERED
from harness.qa import run_qa
from harness.report.release import build_report, render_html
from tests.harness.defects import Defect
from tests.harness.test_defect_injection import service_copy_with

# e2e: starts the fault lab (services, sandbox, database restarts) of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e

CELL_DEFECTS: tuple[tuple[Defect, Cell], ...] = (
    (
        Defect(
            "429-not-retried",
            "providers/http.py",
            (
                (
                    "return response.status_code == 429 or response.status_code >= 500",
                    "return response.status_code >= 500",
                ),
            ),
            "PERF-05",
        ),
        PROVIDER_FAULTS,
    ),
    (
        Defect(
            "webhook-redelivery-applied-again",
            "webhooks/store.py",
            (('where=webhook_events.c.outcome == "unmatched"', "where=webhook_events.c.outcome.is_not(None)"),),
            "STRIPE-04",
        ),
        DUPLICATED_AND_REORDERED,
    ),
    (
        Defect(
            "stopped-sync-claimed-as-success",
            "sync/engine.py",
            (("    if failure is None and result.failed_records == 0:", "    if result.failed_records == 0:"),),
            "XERO-05",
        ),
        TOKEN_REVOKED,
    ),
    (
        Defect(
            "database-outage-answered-without-json",
            "api/errors.py",
            (
                (
                    "return error_response(503, "
                    '"database_unavailable", "the database is unavailable; try again later")',
                    'return PlainTextResponse("database down", status_code=503)',
                ),
                (
                    "import psycopg.errors\n",
                    "import psycopg.errors\nfrom starlette.responses import PlainTextResponse\n",
                ),
            ),
            "CQ-05",
        ),
        DATABASE_RESTART,
    ),
)


def test_every_cell_survives_on_the_real_service(tmp_path: Path) -> None:
    outcome = run_qa(
        "local", gates=[FaultGate()], reports_dir=tmp_path, console=Console(file=io.StringIO()), attestations={}
    )
    found = {cell.fault: (cell.status, cell.detail) for cell in outcome.report.faults}
    assert [cell.fault for cell in outcome.report.faults] == [cell.fault for cell in ALL_CELLS]
    assert {fault: status for fault, (status, _) in found.items()} == dict.fromkeys(found, "passed"), found
    document = json.loads(outcome.json_path.read_text(encoding="utf-8"))
    assert [cell["status"] for cell in document["faults"]] == ["passed"] * len(ALL_CELLS)
    assert 'id="faults-table"' in outcome.html_path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("defect", "cell"), CELL_DEFECTS, ids=[defect.name for defect, _ in CELL_DEFECTS])
def test_the_cell_fails_when_the_service_has_the_defect_it_guards(defect: Defect, cell: Cell, tmp_path: Path) -> None:
    broken = service_copy_with(defect, tmp_path / "service")
    gate = FaultGate(cells=(cell,), service_source=broken)
    result = gate.run(GateContext(stage="local", run_dir=tmp_path / "run", project_root=tmp_path))
    [seen] = collect_faults(tmp_path / "run")
    assert (result.status, seen.status) == ("failed", "failed"), f"{defect.name} went unnoticed: {seen.detail}"
    assert defect.breaks in seen.ids
    [outcome] = result.scenarios
    assert (outcome.status, defect.breaks in outcome.tags) == ("failed", True)


def test_the_gate_proves_what_its_cells_bear_on() -> None:
    assert FaultGate().proves == tuple(sorted({item for cell in ALL_CELLS for item in cell.ids}))
    assert {"PERF-05", "INT-03", "INT-05"} <= set(FaultGate().proves)
    assert FaultGate(cells=(PROVIDER_FAULTS,)).proves == ("INT-03", "PERF-05")


def test_the_report_reads_the_cells_the_gate_wrote(tmp_path: Path) -> None:
    cells = [
        FaultCell("service killed mid-sync", "the log row ends failed", "passed", "ok", ("INT-03",), 3.2),
        FaultCell("DELETE during a sync", "409 with JSON", "failed", "got 204", ("INT-05",), 1.0),
    ]
    write_cells(cells, tmp_path / "faults" / "faults.json")
    assert collect_faults(tmp_path) == cells
    assert collect_faults(tmp_path / "elsewhere") == []


def _report(faults: list[FaultCell]):  # type: ignore[no-untyped-def]
    return build_report(
        run_id="20260101T000000Z-abc",
        stage="local",
        git_sha="abc123",
        git_dirty=False,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:01:00+00:00",
        items=[],
        gate_runs=[],
        faults=faults,
    )


def test_the_html_has_a_faults_survived_table_with_each_cell_escaped() -> None:
    cells = [
        FaultCell("provider 429 <mid-pagination>", "all pages stored", "passed", "400/400 stored", ("PERF-05",)),
        FaultCell("DELETE during a sync", "409 with JSON", "failed", "expected 409, got 204 <script>", ("INT-05",)),
    ]
    html = render_html(_report(cells))
    table = html[html.index('id="faults-table"') : html.index('<h2 id="checklist">')]
    assert "provider 429 &lt;mid-pagination&gt;" in table
    assert "<script>" not in table
    assert "expected 409, got 204 &lt;script&gt;" in table
    assert table.count('class="status passed"') == 1
    assert table.count('class="status failed"') == 1
    assert "PERF-05" in table
    assert _report(cells).to_json()["faults"][1]["status"] == "failed"


def test_the_html_says_when_the_matrix_did_not_run() -> None:
    html = render_html(_report([]))
    assert 'id="faults-table"' not in html
    assert "the fault matrix gate did not run" in html
