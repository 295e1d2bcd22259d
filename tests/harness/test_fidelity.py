"""The fidelity gate: a real sandbox logs its Xero, PayPal and Stripe answers; the gate scores them against
the providers' official specs (read from ../shared/provider-specs; skipped without them), the stripe SDK's
types and the documented shapes of statuses a spec leaves out, and fails naming an operation whose answers
break them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

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
from tests.provider_sandbox.stripe_helpers import sdk

pytestmark = pytest.mark.skipif(bool(missing_specs()), reason=f"provider specs not present: {missing_specs()}")

STRICT = FidelityConfig(min_valid_share=1.0, allowed={})
CONFIG = FidelityConfig.read()  # the project's (contract/fidelity.toml)
XERO_404 = "xero GET /Invoices/{InvoiceID}"


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    folder = tmp_path_factory.mktemp("fidelity")
    log = folder / EXCHANGES_FILE
    with sandbox_process(folder, env={"SANDBOX_EXCHANGE_LOG": str(log), "SANDBOX_SEED_INVOICES": "120"}) as process:
        yield process, log


@pytest.fixture(scope="module")
def exchanges(logged: tuple[ServerProcess, Path]) -> list[dict[str, Any]]:
    """What a service does with the providers, once: connect, list, page, pay, subscribe, one injected fault,
    and the Xero refusals its spec leaves out (401, 403, 404, 429)."""
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
        xero_refusals(http, headers)
        access = token(http)
        create_payment(http, access)
        subscription(http, access, plan(http, access)["id"])
        stripe_calls(sdk(process.url))
    return read_exchanges(log)


def xero_refusals(http: httpx.Client, headers: dict[str, str]) -> None:
    """A revoked token (401), another organisation (403), an unknown invoice (404), a spent minute (429)."""
    bad_token = {**headers, "Authorization": "Bearer not-a-token"}
    assert http.get(f"{XERO_API}/Invoices", headers=bad_token).status_code == 401
    other_tenant = {**headers, "xero-tenant-id": str(uuid.uuid4())}
    assert http.get(f"{XERO_API}/Invoices", headers=other_tenant).status_code == 403
    assert http.get(f"{XERO_API}/Invoices/{uuid.uuid4()}", headers=headers).status_code == 404
    assert http.patch("/_sandbox/xero/limits", json={"per_minute": 1}).status_code == 200
    assert http.get(f"{XERO_API}/Contacts", headers=headers).status_code == 429
    assert http.patch("/_sandbox/xero/limits", json={"per_minute": 60}).status_code == 200


def stripe_calls(client: stripe.StripeClient) -> None:
    """The service's Stripe work through the official SDK: customers, a paid and a declined payment,
    a subscription, events, and an unknown id."""
    customer = client.v1.customers.create(params={"email": "ada@example.com", "metadata": {"crm": "7"}})
    client.v1.customers.list(params={"limit": 3})
    client.v1.payment_intents.create(
        params={"amount": 1200, "currency": "usd", "customer": customer.id, "payment_method": "pm_card_visa",
                "confirm": True}
    )  # fmt: skip
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(
            params={"amount": 900, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": True}
        )
    product = client.v1.products.create(params={"name": "CRM Pro"})
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    client.v1.events.list(params={"limit": 20})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve("cus_unknown")


def operation(section: dict[str, Any], provider: str, name: str) -> dict[str, Any]:
    rows = [row for row in section["operations"] if (row["provider"], row["operation"]) == (provider, name)]
    assert rows, f"{provider} {name} not scored: {[row['operation'] for row in section['operations']]}"
    return dict(rows[0])


def test_the_sandboxs_answers_are_scored_per_operation_and_valid(exchanges: list[dict[str, Any]]) -> None:
    section = score_exchanges(exchanges, CONFIG)
    assert section["failed"] == [], section["failed"]
    invoices = operation(section, "xero", "GET /Invoices")  # two pages, a 401 and a 403
    assert (invoices["valid"], invoices["judged"]) == (4, 4)
    assert operation(section, "xero", "GET /Connections")["valid"] == 1
    assert operation(section, "paypal", "POST /v1/payments/payment")["valid"] == 1
    assert operation(section, "paypal", "POST /v1/billing/subscriptions")["valid"] == 1
    assert section["providers"]["xero"]["judged"] >= 4
    assert "POST /xero/identity/connect/token" in section["outside_specs"]["xero"]


def test_an_injected_fault_is_counted_not_judged(exchanges: list[dict[str, Any]]) -> None:
    contacts = operation(score_exchanges(exchanges, CONFIG), "xero", "GET /Contacts")  # a 200 and a 429
    assert (contacts["valid"], contacts["judged"], contacts["faults"]) == (2, 2, 1)


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
    section = score_exchanges(broken_invoice_page(exchanges), CONFIG)
    assert len(section["failed"]) == 1
    assert section["failed"][0].startswith("xero GET /Invoices: 3 of 4 responses valid"), section["failed"]
    assert "Total" in section["failed"][0]
    assert operation(section, "xero", "GET /Invoices")["status"] == "failed"


def test_an_allowed_operation_is_shown_below_the_threshold_with_its_reason(exchanges: list[dict[str, Any]]) -> None:
    config = FidelityConfig(min_valid_share=1.0, allowed={**CONFIG.allowed, "xero GET /Invoices": "known: issue 17"})
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
    assert "Judged by a documented shape" in html.read_text()
    assert "contract/provider-shapes/xero-429.toml" in html.read_text()
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


def test_stripes_answers_are_judged_by_the_sdks_types_per_operation(exchanges: list[dict[str, Any]]) -> None:
    section = score_exchanges(exchanges, CONFIG)
    assert [row["operation"] for row in section["operations"] if row["provider"] == "stripe" and row["invalid"]] == []
    intents = operation(section, "stripe", "POST /v1/payment_intents")  # paid (200) and declined (402)
    assert (intents["valid"], intents["judged"]) == (2, 2)
    assert operation(section, "stripe", "GET /v1/customers/{id}")["valid"] == 1  # the 404 error envelope
    for name in ("POST /v1/customers", "GET /v1/customers", "POST /v1/subscriptions", "GET /v1/events"):
        assert operation(section, "stripe", name)["valid"] == 1, name
    assert section["providers"]["stripe"]["judged"] >= 9


def broken_stripe_answers(exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A subscription in a status Stripe does not have, a customer with a field Stripe does not send."""
    broken = [dict(exchange) for exchange in exchanges]
    for path, change in (("/stripe/v1/subscriptions", {"status": "almost_active"}), ("/stripe/v1/customers", {})):
        answer = next(e for e in broken if (e["method"], e["path"], e["status"]) == ("POST", path, 200))
        body = json.loads(answer["body"])
        body.update(change or {"favourite_colour": "teal"})
        answer["body"] = json.dumps(body)
    return broken


def test_a_stripe_answer_broken_on_purpose_fails_naming_the_operation(exchanges: list[dict[str, Any]]) -> None:
    section = score_exchanges(broken_stripe_answers(exchanges), CONFIG)
    failed = sorted(section["failed"])
    assert len(failed) == 2, failed
    assert failed[0].startswith("stripe POST /v1/customers: 0 of 1 responses valid"), failed
    assert "favourite_colour: not a field of the SDK's Customer" in failed[0]
    assert failed[1].startswith("stripe POST /v1/subscriptions: 0 of 1 responses valid"), failed
    assert "status: 'almost_active' is not one of" in failed[1]


def test_statuses_the_spec_leaves_out_are_judged_by_their_documented_shape(exchanges: list[dict[str, Any]]) -> None:
    section = score_exchanges(exchanges, CONFIG)
    invoices = operation(section, "xero", "GET /Invoices")
    assert (invoices["by_shape"], sorted(invoices["shape_statuses"]), invoices["undocumented"]) == (2, [401, 403], 0)
    contacts = operation(section, "xero", "GET /Contacts")
    assert (contacts["by_shape"], contacts["shape_statuses"]) == (1, [429])
    assert {
        (shape["status"], shape["source"].startswith("https://developer.xero.com/")) for shape in section["shapes"]
    } >= {(status, True) for status in (401, 403, 404, 429)}


def test_the_sandboxs_404_is_judged_against_xeros_plain_text_one(exchanges: list[dict[str, Any]]) -> None:
    """Xero answers an unknown id in plain text (contract/provider-shapes/xero-404.toml); so does the sandbox,
    and a JSON problem in its place fails the gate naming the operation."""
    one_invoice = operation(score_exchanges(exchanges, STRICT), "xero", "GET /Invoices/{InvoiceID}")
    assert (one_invoice["invalid"], one_invoice["by_shape"], one_invoice["status"]) == (0, 1, "passed")
    broken = [dict(exchange) for exchange in exchanges]
    missing = next(e for e in broken if e["status"] == 404 and "/Invoices/" in e["path"])
    missing["body"] = json.dumps({"Title": "NotFound", "Status": 404, "Detail": "not found"})
    failed = score_exchanges(broken, STRICT)["failed"]
    assert len(failed) == 1
    assert failed[0].startswith(XERO_404 + ": 0 of 1 responses valid (404 (documented shape contract/provider-shapes/")


def test_a_429_without_xeros_headers_fails_naming_the_operation(exchanges: list[dict[str, Any]]) -> None:
    broken = [dict(exchange) for exchange in exchanges]
    refused = next(e for e in broken if e["status"] == 429)
    refused["headers"] = {k: v for k, v in refused["headers"].items() if k != "retry-after"}
    failed = score_exchanges(broken, CONFIG)["failed"]
    assert len(failed) == 1
    assert failed[0].startswith("xero GET /Contacts: 1 of 2 responses valid"), failed
    assert "header retry-after: missing" in failed[0]
