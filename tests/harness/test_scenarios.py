"""The scenario gate's parts: the stage target handed over in the environment, the per-scenario results
the pytest plugin records (Examples tags, the failing step and assertion), and how the gate judges them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.gates.scenario_results import RESULTS_OPTION, ScenarioOutcome, read_results
from harness.gates.scenario_target import ScenarioTarget, ScenarioTargetError
from harness.gates.scenarios import ScenarioGate, judge

FEATURE = """\
Feature: Arithmetic
  @local
  Scenario Outline: Adding
    Given the number <a>
    When I add <b>
    Then I get <sum>

    @CQ-01
    Examples: right
      | a | b | sum |
      | 1 | 2 | 3   |

    @CQ-02
    Examples: wrong
      | a | b | sum |
      | 1 | 1 | 3   |
"""

STEPS = """\
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("arithmetic.feature")


@given(parsers.parse("the number {a:d}"), target_fixture="total")
def number(a):
    return {"value": a}


@when(parsers.parse("I add {b:d}"))
def add(total, b):
    total["value"] += b


@then(parsers.parse("I get {expected:d}"))
def check(total, expected):
    assert total["value"] == expected, f"expected {expected}, got {total['value']}"
"""


def test_the_target_travels_in_the_environment_without_a_file(tmp_path: Path) -> None:
    target = ScenarioTarget(
        stage="local",
        service_url="http://127.0.0.1:8000",
        project_root=tmp_path,
        run_dir=tmp_path / "run",
        database_url="postgresql://u@host/db",
        stripe_webhook_secret="whsec_test",
        service_log=tmp_path / "service.log",
    )
    env = target.to_env()
    assert env["QA_STRIPE_WEBHOOK_SECRET"] == "whsec_test"
    assert "QA_SANDBOX_URL" not in env  # unset values are not handed over as "None"
    assert ScenarioTarget.from_env(env) == target


def test_scenarios_refuse_to_run_without_a_stage() -> None:
    with pytest.raises(ScenarioTargetError, match="QA_STAGE, QA_SERVICE_URL not set"):
        ScenarioTarget.from_env({})


@pytest.mark.e2e  # runs a scenario pytest subprocess
def test_the_results_plugin_records_tags_steps_and_the_failing_assertion(tmp_path: Path) -> None:
    (tmp_path / "arithmetic.feature").write_text(FEATURE)
    (tmp_path / "test_arithmetic.py").write_text(STEPS)
    results = tmp_path / "results.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(tmp_path),
        "-p",
        "harness.gates.scenario_results",
        "-p",
        "no:cacheprovider",
    ]
    command += [f"{RESULTS_OPTION}={results}", "-o", "addopts=", "-o", "markers=CQ-01\nCQ-02\nlocal", "-q"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert completed.returncode == 1, completed.stdout  # one scenario fails

    by_tag = {outcome.tags[0]: outcome for outcome in read_results(results)}
    assert set(by_tag) == {"CQ-01", "CQ-02"}
    right, wrong = by_tag["CQ-01"], by_tag["CQ-02"]
    assert right.status == "passed"
    assert set(right.tags) == {"CQ-01", "local"}
    assert [step.status for step in right.steps] == ["passed", "passed", "passed"]
    assert wrong.status == "failed"
    assert [(step.text, step.status) for step in wrong.steps][-1] == ("Then I get 3", "failed")
    assert "expected 3, got 2" in wrong.failure
    assert wrong.name.startswith("Adding [")


def outcome(status: str) -> ScenarioOutcome:
    return ScenarioOutcome(feature="f.feature", name=f"a {status} one", tags=("CQ-01",), status=status)


def test_the_gate_fails_when_no_scenario_ran(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("collected 0 items")
    result = judge([], 5, "local", log, ())
    assert result.status == "failed"
    assert "no scenario ran" in result.detail


def test_the_gate_fails_on_a_failed_scenario_and_names_it(tmp_path: Path) -> None:
    result = judge([outcome("passed"), outcome("failed")], 1, "local", tmp_path / "log", ())
    assert result.status == "failed"
    assert "f.feature: a failed one" in result.detail
    assert len(result.scenarios) == 2


def test_the_gate_fails_when_pytest_failed_outside_the_scenarios(tmp_path: Path) -> None:
    (tmp_path / "log").write_text("ERROR collecting steps/test_checklist.py")
    result = judge([outcome("passed")], 2, "local", tmp_path / "log", ())
    assert result.status == "failed"
    assert "ERROR collecting" in result.detail


def test_the_gate_passes_when_every_scenario_passed(tmp_path: Path) -> None:
    assert judge([outcome("passed")], 0, "local", tmp_path / "log", ()).status == "passed"


def test_only_ids_narrow_the_stage_expression() -> None:
    assert ScenarioGate().marker_expression("staging") == "staging"
    gate = ScenarioGate(only_ids=frozenset({"XERO-04", "SEC-05"}))
    assert gate.marker_expression("local") == "local and (SEC-05 or XERO-04)"
