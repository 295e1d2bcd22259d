"""Preflight: the run stops before testing anything when the catalogue and features disagree, or when a
deployed stage's settings are incomplete or not HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.gates.base import GateContext
from harness.gates.preflight import PreflightGate, feature_problems, gate_store_problems, stage_setting_problems
from harness.ops.common import Target
from harness.ops.signoff import ROLES, record_signoff
from tests.harness.ops.drill import make_checkout

SETTINGS = ("SERVICE_URL", "DATABASE_URL", "STRIPE_WEBHOOK_SECRETS")


@pytest.fixture
def no_stage_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path  # a project root without .env.<stage>


def test_features_that_leave_ids_untagged_are_named(tmp_path: Path) -> None:
    (tmp_path / "one.feature").write_text("Feature: One\n  @local @CQ-01 @typo\n  Scenario: s\n    Given x\n")
    problems = feature_problems(tmp_path)
    assert "no scenario carries checklist id CQ-02" in problems
    assert "unknown tag one.feature:3 @typo" in problems
    assert not any("CQ-01" in problem for problem in problems)


def test_a_staging_run_names_every_missing_setting(no_stage_settings: Path) -> None:
    problems = stage_setting_problems("staging", no_stage_settings)
    assert [problem.split(" ")[0] for problem in problems] == list(SETTINGS)
    assert all(".env.staging" in problem for problem in problems)


def test_a_release_stage_must_be_reached_over_https(no_stage_settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_URL", "http://staging.example.com")
    monkeypatch.setenv("DATABASE_URL", "postgresql://qa@db.example.com/integrations")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_x")
    assert stage_setting_problems("production", no_stage_settings) == [
        "SERVICE_URL must use https outside the local stage (it is http://…)"
    ]
    monkeypatch.setenv("SERVICE_URL", "https://staging.example.com")
    assert stage_setting_problems("production", no_stage_settings) == []


def test_the_gate_fails_with_the_problems_listed(no_stage_settings: Path, tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    gate = PreflightGate(features_dir=tmp_path / "features")
    result = gate.run(GateContext(stage="staging", run_dir=tmp_path, project_root=no_stage_settings))
    assert result.status == "failed"
    assert "no scenario carries checklist id CQ-01" in result.detail
    assert "SERVICE_URL is not set for staging" in result.detail


@pytest.mark.db
def test_production_needs_its_signoffs_in_the_gate_store(
    no_stage_settings: Path, monkeypatch: pytest.MonkeyPatch, empty_database_url: str
) -> None:
    checkout, sha = make_checkout(no_stage_settings)
    monkeypatch.setenv("GATE_STORE_URL", f"{empty_database_url}")
    [problem] = gate_store_problems("production", checkout)
    assert problem.startswith(f"sign-offs missing for {sha[:10]} in production's gate store: qa, security, devops")
    store = Target(stage="production", database_url="", gate_store_url=empty_database_url)
    for role in ROLES:
        record_signoff(store, role, f"{role} lead", sha, {})
    assert gate_store_problems("production", checkout) == []
    assert gate_store_problems("staging", checkout) == []  # staging: the store must answer, no sign-offs yet
    monkeypatch.setenv("GATE_STORE_URL", "postgresql://nobody@127.0.0.1:1/none")
    [unreachable] = gate_store_problems("staging", checkout)
    assert unreachable.startswith("the gate store postgresql://nobody@127.0.0.1:1/none cannot be reached")
