"""Evidence for the monitoring, weekly and monthly checks on a deployed stage, made by a scenario's own
users through the service: syncs refused or rate-limited by the provider sandbox (fault rules scoped to
the scenario's own company file or company, so that no other account is touched, and removed when the
scenario ends), integrations disabled, the service's token refresh counters read before and after.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from harness.ops.periodic_checks import token_refresh_rate
from steps.common import World, describe
from steps.support.accounting import PROVIDERS, Books, integration, org
from steps.support.lab import stage_target
from steps.support.own_rows import StageReport
from steps.support.pre_deployment import add_sandbox_fault

SCOPED = r"(?P<provider>MYOB|QuickBooks)"  # their API paths carry the company file / company id


def _scoped_fault(
    world: World, books: Books, request: pytest.FixtureRequest, provider: str, name: str, rule: dict[str, Any]
) -> None:
    chosen = org(world, books, name)
    assert chosen.provider is PROVIDERS[provider], f'"{name}" is not a {provider} organisation'
    # The path substring holds the scenario's own company file (MYOB) or realm (QuickBooks): only its calls fail.
    add_sandbox_fault(
        world, request, {"provider": chosen.provider.slug, "path": f"/{chosen.tenant_id}/", "times": None, **rule}
    )


@given(parsers.re(SCOPED + r' refuses every request for "(?P<name>[^"]+)"(?: saying "(?P<message>[^"]+)")?$'))
@when(parsers.re(SCOPED + r' refuses every request for "(?P<name>[^"]+)"(?: saying "(?P<message>[^"]+)")?$'))
def provider_refuses(
    world: World, books: Books, request: pytest.FixtureRequest, provider: str, name: str, message: str | None
) -> None:
    rule: dict[str, Any] = {"kind": "error", "status": 400}  # a refusal: no retry, the run stops at once
    if message is not None:
        rule["message"] = f"{message} [{uuid.uuid4().hex[:8]}]"
    _scoped_fault(world, books, request, provider, name, rule)


@given(parsers.re(SCOPED + r' rate-limits every request for "(?P<name>[^"]+)" for an hour$'))
@when(parsers.re(SCOPED + r' rate-limits every request for "(?P<name>[^"]+)" for an hour$'))
def provider_rate_limits(world: World, books: Books, request: pytest.FixtureRequest, provider: str, name: str) -> None:
    # A Retry-After beyond what the service waits for: the run stops at once, rate-limited.
    _scoped_fault(world, books, request, provider, name, {"kind": "rate_limit", "retry_after": 3600})


@when(parsers.re(r'"(?P<user>[^"]+)" syncs the invoices of "(?P<name>[^"]+)" (?P<times>\d+) times?, each one stopped$'))
def syncs_stopped(world: World, books: Books, user: str, name: str, times: str) -> None:
    client = world.user(user).client
    body = {"integrationId": integration(world, name)["id"], "dataType": "invoices"}
    for attempt in range(1, int(times) + 1):
        answer = client.post("/api/integrations/sync", json=body)
        stopped = f"sync {attempt} of {name}: expected the provider to stop it"
        assert answer.status_code == 502, f"{stopped}: {describe(answer)}"
        assert answer.json()["result"]["status"] == "failed", f"sync {attempt} of {name}: {describe(answer)}"
    books.owner.setdefault(name, world.user(user))


@given(parsers.re(r'"(?P<user>[^"]+)" has disabled the integration of "(?P<name>[^"]+)"$'))
def disable_integration(world: World, user: str, name: str) -> None:
    path = f"/api/integrations/{integration(world, name)['id']}"
    answer = world.user(user).client.patch(path, json={"isActive": False})
    assert answer.status_code == 200, describe(answer)
    assert answer.json()["integration"]["isActive"] is False, describe(answer)


@given("the token refresh counters of the stage's service are noted", target_fixture="refreshes_before")
def refresh_counters_noted(world: World) -> dict[str, Any]:
    counted = token_refresh_rate(stage_target(world))
    if counted["status"] == "unknown" and "no integration_token_refreshes_total" in counted["note"]:
        counted = {"succeeded": 0, "failed": 0}  # the service answered, and has refreshed no token since it started
    assert "succeeded" in counted, f"the stage's service does not tell its token refreshes: {counted}"
    return counted


@then(
    parsers.re(
        r"the report's token refresh counts from the stage's service grew by at least "
        r"(?P<succeeded>\d+) succeeded and (?P<failed>\d+) failed$"
    )
)
def refresh_counters_grew(
    refreshes_before: dict[str, Any], stage_report: StageReport, succeeded: str, failed: str
) -> None:
    before = refreshes_before
    after = stage_report.report["token_refresh"]
    assert after["status"] == "known", f"the report could not read the service's refresh counters: {after}"
    grown = (after["succeeded"] - before["succeeded"], after["failed"] - before["failed"])
    expected = (int(succeeded), int(failed))
    short = [kind for kind, more, least in zip(("succeeded", "failed"), grown, expected, strict=True) if more < least]
    assert short == [], f"expected at least {expected} more (succeeded, failed) refreshes, the counters grew {grown}"
