"""The deployed service's own account of its configuration (ENV-04, ENV-05, SEC-03).

`GET /api/config-check` (any valid API token) names each setting the stage needs with `ok`, `missing`
or `invalid`, and the CORS origins it allows; never a value. So the QA runner proves a stage's
configuration without holding the service's secrets or reading an env file that may differ from what
the service runs with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pytest_bdd import parsers, then, when

from steps.common import World, describe

CONFIG_CHECK = "/api/config-check"
READER = "Config reader"  # the scenario's own user that reads the report when no other is named


@dataclass
class ServiceConfig:
    """The service's configuration report, read on first ask and kept for the rest of the scenario."""

    world: World
    report: dict[str, Any] | None = None

    def read(self, name: str = READER) -> dict[str, Any]:
        """The report, read with `name`'s token the first time it is asked for."""
        if self.report is None:
            response = self.world.user(name).client.get(CONFIG_CHECK)
            if response.status_code != 200:
                pytest.fail(f"the service gave no configuration report: {describe(response)}")
            self.report = response.json()
        return self.report

    def crm_origin(self) -> str:
        """The CRM's origin: the first CORS origin the running service allows."""
        origins = self.read().get("corsAllowedOrigins") or []
        if not origins:
            pytest.fail("the service reports no allowed CORS origin: set CORS_ALLOWED_ORIGINS to the CRM's origin")
        return str(origins[0])


@pytest.fixture
def service_config(world: World) -> ServiceConfig:
    return ServiceConfig(world)


@when(parsers.parse('"{name}" asks the service for its configuration report'), target_fixture="reported")
def ask_config_report(service_config: ServiceConfig, name: str) -> dict[str, Any]:
    return service_config.read(name)


@then(parsers.parse('the service runs as "{stage}" and reports every setting it needs set and valid, among them:'))
def reported_complete(reported: dict[str, Any], stage: str, datatable: list[list[str]]) -> None:
    assert reported.get("stage") == stage, f"the service runs as {reported.get('stage')!r}, not {stage!r}"
    settings = {entry["name"]: entry for entry in reported.get("settings", [])}
    expected = [row[0] for row in datatable[1:]]
    unreported = [name for name in expected if name not in settings]
    assert not unreported, f"the report does not cover {unreported}; it names {sorted(settings)}"
    wrong = [f"{name}: {e['status']} ({e.get('problem')})" for name, e in settings.items() if e["status"] != "ok"]
    assert not wrong, f"the {stage} service's settings are not complete: " + "; ".join(wrong)


@then("the report shows no setting's value")
def report_without_values(reported: dict[str, Any]) -> None:
    allowed = {"name", "status", "problem"}
    extra = {key for entry in reported.get("settings", []) for key in entry} - allowed
    assert not extra, f"the report's settings carry more than their name and state: {sorted(extra)}"
