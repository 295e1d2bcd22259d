"""The fuzz gate signs the Stripe webhook bodies it generates (contract/fuzz_hooks.py), so they reach the
event's parsing; the signing secret appears in no report file (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.gates.fuzz import run_schemathesis
from harness.gates.fuzz_reach import read_cassette
from tests.fixtures.service import RunningService

# e2e: Schemathesis runs of its own against the test service.
pytestmark = [pytest.mark.e2e, pytest.mark.db]
ONLY_STRIPE_WEBHOOK = ["--include-path", "/api/integrations/stripe/webhook", "--max-examples", "15"]


def webhook_codes(report_dir: Path) -> list[str | None]:
    """The error code of each POST case's answer (None: no error); the phases that try other methods left out."""
    return [
        code
        for method, path, _status, _fields, phase, code in read_cassette(report_dir / "cassette.yaml")
        if (method, path) == ("POST", "/api/integrations/stripe/webhook") and phase != "stateful"
    ]


def test_generated_stripe_webhooks_are_signed_and_reach_the_event(service: RunningService, tmp_path: Path) -> None:
    secret = service.env["STRIPE_WEBHOOK_SECRETS"]
    report = tmp_path / "signed"
    outcome = run_schemathesis(
        f"{service.url}/openapi.json", "not-a-token", report, ONLY_STRIPE_WEBHOOK, stripe_webhook_secret=secret
    )
    codes = webhook_codes(report)
    assert codes
    assert "invalid_signature" not in codes
    assert None in codes  # some generated events were accepted (200): stored, and applied or ignored
    assert outcome.reach is not None
    [webhook] = [op for op in outcome.reach.operations if op.operation == "POST /api/integrations/stripe/webhook"]
    assert webhook.share == 1.0
    for written in report.iterdir():
        assert secret not in written.read_text(errors="replace"), written.name


def test_without_the_secret_every_generated_webhook_stops_at_the_signature(
    service: RunningService, tmp_path: Path
) -> None:
    report = tmp_path / "unsigned"
    outcome = run_schemathesis(f"{service.url}/openapi.json", "not-a-token", report, ONLY_STRIPE_WEBHOOK)
    codes = webhook_codes(report)
    assert codes
    assert set(codes) == {"invalid_signature"}
    assert outcome.reach is not None
    [webhook] = [op for op in outcome.reach.operations if op.operation == "POST /api/integrations/stripe/webhook"]
    assert webhook.reached == 0
