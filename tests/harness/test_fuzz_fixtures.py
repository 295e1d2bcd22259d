"""The identifiers the fuzz setup made reach Schemathesis: the project's configuration plus the pinned
parameters is a configuration Schemathesis itself loads, with each operation's values where they belong."""

from __future__ import annotations

import tomllib

import pytest
from schemathesis.config import SchemathesisConfig

from harness.gates.fuzz import CONFIG_FILE
from harness.stack.fuzz_fixtures import FuzzFixtures

PUBLISH = "POST /api/integrations/mautic/{integration_id}/campaigns/{campaign_id}/publish"
REFUND = "POST /api/integrations/stripe/refunds"


def test_pinned_identifiers_load_as_schemathesis_operation_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_API_TOKEN", "not-a-secret")  # the configuration reads it, as in a run
    fixtures = FuzzFixtures()
    fixtures.pin(PUBLISH, integration_id="6f1c0c5e-0000-4000-8000-000000000001", campaign_id=551)
    fixtures.pin(REFUND, **{"body.integrationId": "6f1c0c5e-0000-4000-8000-000000000002"})
    fixtures.pin(REFUND, **{"body.paymentIntent": 'pi_"quoted"'})
    text = CONFIG_FILE.read_text(encoding="utf-8") + "\n" + fixtures.as_toml()

    # The pinned tables (the project's own narrow checks by name, some with lists of names, and set no parameters).
    operations = tomllib.loads(text)["operations"]
    tables = {entry["include-name"]: entry for entry in operations if "parameters" in entry}
    assert tables[PUBLISH]["parameters"] == {
        "integration_id": "6f1c0c5e-0000-4000-8000-000000000001",
        "campaign_id": 551,
    }
    assert tables[REFUND]["parameters"] == {
        "body.integrationId": "6f1c0c5e-0000-4000-8000-000000000002",
        "body.paymentIntent": 'pi_"quoted"',
    }
    loaded = SchemathesisConfig.from_str(text)  # Schemathesis's own validation of the file
    assert loaded.projects.default.operations.operations[-1].parameters == tables[REFUND]["parameters"]
