"""Scenarios are safe on a shared stage: the users they make are removed when they end — tokens revoked,
integrations and their rows deleted — whether they passed or failed; and a `@sandbox` scenario on a stage
without the provider sandbox is skipped with the reason, never passed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest
from steps.common import NO_SANDBOX

from harness.core.paths import PROJECT_ROOT
from harness.gates.scenario_results import RESULTS_OPTION, read_results
from integration_service.security.api_tokens import hash_token
from tests.fixtures.service import RunningService

# e2e: starts a scenario run in a pytest subprocess of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e

FEATURE = """\
Feature: Scenario users
  @staging
  Scenario: passes
    Given a user "Alice" signed in with an API token
    And "Alice" has an integration with a synced payment and a webhook event about it
    When "Alice" sends GET /api/integrations
    Then the response status is 200

  @staging
  Scenario: fails
    Given a user "Bob" signed in with an API token
    And "Bob" has an integration with a synced payment and a webhook event about it
    Then this scenario fails

  @staging @sandbox
  Scenario: needs the sandbox
    Given a user "Carol" signed in with an API token
"""

STEPS = """\
import json
import os
import uuid

import psycopg
from pytest_bdd import given, parsers, scenarios, then

scenarios("users.feature")


@given(parsers.parse('"{name}" has an integration with a synced payment and a webhook event about it'))
def owned_rows(world, name):
    user = world.user(name)
    with psycopg.connect(world.target.database_url, autocommit=True) as sql:
        user_id = sql.execute("SELECT id FROM users WHERE name = %s", [user.account]).fetchone()[0]
        integration = sql.execute(
            "INSERT INTO integrations_credentials (user_id, integration_type, integration_name)"
            " VALUES (%s, 'STRIPE', 'qa') RETURNING id",
            [user_id],
        ).fetchone()[0]
        sql.execute(
            "INSERT INTO stripe_payments (integration_id, user_id, stripe_charge_id) VALUES (%s, %s, %s)",
            [integration, user_id, f"ch_{uuid.uuid4().hex}"],
        )
        sql.execute(
            "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status)"
            " VALUES (%s, %s, 'STRIPE', 'full', 'success')",
            [integration, user_id],
        )
        event = f"evt_{uuid.uuid4().hex}"
        sql.execute(
            "INSERT INTO webhook_events (provider, event_id, event_type, integration_id, outcome, payload)"
            " VALUES ('stripe', %s, 'charge.succeeded', %s, 'applied', '{}')",
            [event, integration],
        )
    made = {"account": user.account, "token": user.token, "integration": str(integration), "event": event}
    with open(os.environ["MADE_FILE"], "a") as made_file:
        made_file.write(json.dumps(made) + "\\n")


@then("this scenario fails")
def fails():
    raise AssertionError("failing on purpose, after making a user and rows")
"""


@pytest.mark.db
def test_scenario_users_are_removed_after_passing_and_failing_scenarios(
    service: RunningService, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "users.feature").write_text(FEATURE)
    (tmp_path / "test_users.py").write_text(STEPS)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["steps.common"]\n')
    results, made_file = tmp_path / "results.json", tmp_path / "made.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "MADE_FILE": str(made_file),
        "QA_STAGE": "staging",  # a shared stage: no sandbox, the scenario's users on its database
        "QA_SERVICE_URL": service.url,
        "QA_DATABASE_URL": database_url,
    }
    env.pop("QA_SANDBOX_URL", None)
    command = [sys.executable, "-m", "pytest", str(tmp_path), "-p", "harness.gates.scenario_results"]
    command += ["-p", "no:cacheprovider", f"{RESULTS_OPTION}={results}", "-o", "addopts=", "-q"]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)

    outcomes = {outcome.name: outcome for outcome in read_results(results)}
    assert {name: outcome.status for name, outcome in outcomes.items()} == {
        "passes": "passed",
        "fails": "failed",
        "needs the sandbox": "skipped",
    }, run.stdout[-3000:]
    assert NO_SANDBOX in outcomes["needs the sandbox"].failure
    made = [json.loads(line) for line in made_file.read_text().splitlines()]
    assert len(made) == 2
    with psycopg.connect(database_url, autocommit=True) as sql:
        for entry in made:
            assert_nothing_left(sql, entry)
            answer = httpx.get(f"{service.url}/api/integrations", headers={"Authorization": f"Bearer {entry['token']}"})
            assert answer.status_code == 401, f"a removed user's token still works: {answer.status_code}"


def assert_nothing_left(sql: psycopg.Connection[tuple[object, ...]], made: dict[str, str]) -> None:
    checks = {
        "users": ("SELECT count(*) FROM users WHERE name = %s", made["account"]),
        "api_tokens": ("SELECT count(*) FROM api_tokens WHERE token_hash = %s", hash_token(made["token"])),
        "integrations": ("SELECT count(*) FROM integrations_credentials WHERE id = %s", made["integration"]),
        "stripe_payments": ("SELECT count(*) FROM stripe_payments WHERE integration_id = %s", made["integration"]),
        "sync_logs": ("SELECT count(*) FROM integrations_sync_logs WHERE integration_id = %s", made["integration"]),
        # Deleting the integration only unlinks its events (SET NULL): they must be deleted by the clean-up.
        "webhook_events": ("SELECT count(*) FROM webhook_events WHERE event_id = %s", made["event"]),
    }
    left = {}
    for table, (query, value) in checks.items():
        row = sql.execute(query, [value]).fetchone()
        if row is not None and row[0]:
            left[table] = row[0]
    assert not left, f"the scenario of {made['account']} left rows behind: {left}"
