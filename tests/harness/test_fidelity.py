"""The fidelity gate: a real sandbox logs its Xero and PayPal answers; the gate scores them against the
providers' official specs (read from ../shared/provider-specs; skipped without them) and fails naming an
operation whose answers break its spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.core.processes import ServerProcess
from harness.core.provider_specs import missing_specs
from harness.gates.base import GateContext
from harness.gates.fidelity import (
    EXCHANGES_FILE,
    FidelityConfig,
    FidelityGate,
    fidelity_dir,
    read_exchanges,
    read_fidelity,
    score_exchanges,
)
from harness.report.release import ReleaseReport, build_report, render_html, write_report
from harness.stack.local import sandbox_process
from tests.provider_sandbox.helpers import XERO_API, connect
from tests.provider_sandbox.paypal_helpers import create_payment, plan, subscription, token

pytestmark = pytest.mark.skipif(bool(missing_specs()), reason=f"provider specs not present: {missing_specs()}")

STRICT = FidelityConfig(min_valid_share=1.0, allowed={})


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    folder = tmp_path_factory.mktemp("fidelity")
    log = folder / EXCHANGES_FILE
    with sandbox_process(folder, env={"SANDBOX_EXCHANGE_LOG": str(log), "SANDBOX_SEED_INVOICES": "120"}) as process:
        yield process, log


@pytest.fixture(scope="module")
def exchanges(logged: tuple[ServerProcess, Path]) -> list[dict[str, Any]]:
    """What a service does with Xero and PayPal, once: connect, list, page, pay, subscribe, one injected fault."""
    process, log = logged
    with httpx.Client(base_url=process.url, timeout=30) as http:
        xero = connect(http, "xero")
        auth = {"Authorization": f"Bearer {xero.access}"}
        tenant = http.get("/xero/api/connections", headers=auth).json()[0]["tenantId"]
        headers = {**auth, "xero-tenant-id": tenant}
        for page in ("1", "2"):
            assert http.get(f"{XERO_API}/Invoices", params={"page": page}, headers=headers).status_code == 200
        assert http.get(f"{XERO_API}/Contacts", headers=headers).status_code == 200
        fault = http.post("/_sandbox/faults", json={"provider": "xero", "status": 500, "times": 1})
        assert fault.status_code == 201, fault.text
        assert http.get(f"{XERO_API}/Contacts", headers=headers).status_code == 500
        access = token(http)
        create_payment(http, access)
        subscription(http, access, plan(http, access)["id"])
    return read_exchanges(log)


def operation(section: dict[str, Any], provider: str, name: str) -> dict[str, Any]:
    rows = [row for row in section["operations"] if (row["provider"], row["operation"]) == (provider, name)]
    assert rows, f"{provider} {name} not scored: {[row['operation'] for row in section['operations']]}"
    return dict(rows[0])


def test_the_sandboxs_answers_are_scored_per_operation_and_valid(exchanges: list[dict[str, Any]]) -> None:
    section = score_exchanges(exchanges, STRICT)
    assert section["failed"] == [], section["failed"]
    invoices = operation(section, "xero", "GET /Invoices")
    assert (invoices["valid"], invoices["judged"]) == (2, 2)
    assert operation(section, "xero", "GET /Connections")["valid"] == 1
    assert operation(section, "paypal", "POST /v1/payments/payment")["valid"] == 1
    assert operation(section, "paypal", "POST /v1/billing/subscriptions")["valid"] == 1
    assert section["providers"]["xero"]["judged"] >= 4
    assert "POST /xero/identity/connect/token" in section["outside_specs"]["xero"]


def test_an_injected_fault_is_counted_not_judged(exchanges: list[dict[str, Any]]) -> None:
    contacts = operation(score_exchanges(exchanges, STRICT), "xero", "GET /Contacts")
    assert (contacts["valid"], contacts["judged"], contacts["faults"]) == (1, 1, 1)


def test_tokens_never_reach_the_log(logged: tuple[ServerProcess, Path], exchanges: list[dict[str, Any]]) -> None:
    token_answers = [exchange for exchange in exchanges if exchange["path"].endswith("/token")]
    assert token_answers, "no token answer was logged"
    for exchange in token_answers:
        assert json.loads(exchange["body"])["access_token"] == "redacted"


def broken_invoice_page(exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same exchanges with one Xero invoice page broken the way a careless simulator would: a total
    sent as text."""
    broken = [dict(exchange) for exchange in exchanges]
    page = next(e for e in broken if e["path"].endswith("/Invoices") and e["status"] == 200)
    body = json.loads(page["body"])
    body["Invoices"][0]["Total"] = "one hundred"
    page["body"] = json.dumps(body)
    return broken


def test_a_response_broken_on_purpose_fails_naming_the_operation(exchanges: list[dict[str, Any]]) -> None:
    section = score_exchanges(broken_invoice_page(exchanges), STRICT)
    assert len(section["failed"]) == 1
    assert section["failed"][0].startswith("xero GET /Invoices: 1 of 2 responses valid"), section["failed"]
    assert "Total" in section["failed"][0]
    assert operation(section, "xero", "GET /Invoices")["status"] == "failed"


def test_an_allowed_operation_is_shown_below_the_threshold_with_its_reason(exchanges: list[dict[str, Any]]) -> None:
    config = FidelityConfig(min_valid_share=1.0, allowed={"xero GET /Invoices": "known: issue 17"})
    section = score_exchanges(broken_invoice_page(exchanges), config)
    assert section["failed"] == []
    invoices = operation(section, "xero", "GET /Invoices")
    assert (invoices["status"], invoices["allowed_because"]) == ("allowed", "known: issue 17")


def gate_run(run_dir: Path, exchanges: list[dict[str, Any]]) -> tuple[str, str]:
    folder = fidelity_dir(run_dir)
    folder.mkdir(parents=True)
    (folder / EXCHANGES_FILE).write_text("".join(json.dumps(e) + "\n" for e in exchanges), encoding="utf-8")
    result = FidelityGate().run(GateContext(stage="local", run_dir=run_dir, project_root=Path.cwd()))
    return result.status, result.detail


def report_with(fidelity: dict[str, Any]) -> ReleaseReport:
    """A report of a run with no checklist and no gates, but this fidelity section."""
    return build_report(
        run_id="r",
        stage="local",
        git_sha="abc",
        git_dirty=False,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:01:00+00:00",
        items=[],
        gate_runs=[],
        fidelity=fidelity,
    )


def test_the_gate_passes_and_the_release_report_carries_its_section(
    tmp_path: Path, exchanges: list[dict[str, Any]]
) -> None:
    status, detail = gate_run(tmp_path, exchanges)
    assert status == "passed", detail
    assert detail.startswith("paypal ")
    assert "xero " in detail
    json_path, html = write_report(report_with(read_fidelity(tmp_path)), tmp_path / "report")
    assert 'id="fidelity-table"' in html.read_text()
    assert "GET /Invoices" in html.read_text()
    section = json.loads(json_path.read_text())["fidelity"]
    assert operation(section, "xero", "GET /Invoices")["status"] == "passed"


def test_a_report_without_the_gate_says_fidelity_was_not_measured(tmp_path: Path) -> None:
    assert read_fidelity(tmp_path) == {}
    html = render_html(report_with(read_fidelity(tmp_path)))
    assert "Provider fidelity" in html
    assert "Not measured in this run" in html


def test_the_gate_fails_on_a_broken_response(tmp_path: Path, exchanges: list[dict[str, Any]]) -> None:
    status, detail = gate_run(tmp_path, broken_invoice_page(exchanges))
    assert status == "failed"
    assert "xero GET /Invoices" in detail


def test_the_gate_says_when_nothing_was_logged(tmp_path: Path) -> None:
    result = FidelityGate().run(GateContext(stage="local", run_dir=tmp_path, project_root=Path.cwd()))
    assert result.status == "skipped"
    assert "no sandbox exchanges" in result.detail
    status, detail = gate_run(tmp_path / "empty", [])
    assert status == "failed"
    assert "logged no response" in detail
