"""The example pipelines in ci-examples/ parse, run the staging gate, publish its reports, and make the
release job wait for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "ci-examples"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return document


def commands(job: dict[str, Any]) -> list[str]:
    return [str(step.get("run", "")) for step in job.get("steps", [])] + [str(line) for line in job.get("script", [])]


def test_github_actions_runs_the_whole_flow_and_each_stage_waits_for_the_one_before() -> None:
    jobs = load("github-actions.yml")["jobs"]
    assert "uv run invoke qa --stage local" in commands(jobs["gate-commit"])
    assert "uv run invoke qa --stage staging --carry-from commit-gate" in commands(jobs["qa-staging"])
    assert jobs["qa-staging"]["needs"] == "release-staging"
    assert jobs["release-staging"]["needs"] == "gate-commit"
    assert jobs["release-production"]["needs"] == "qa-staging"
    assert jobs["qa-production"]["needs"] == "release-production"
    production_gate = commands(jobs["qa-production"])
    assert any(line.startswith("uv run invoke qa --stage production --carry-from") for line in production_gate)
    rollback = next(step for step in jobs["qa-production"]["steps"] if "rollback" in str(step.get("run")))
    assert rollback["if"] == "failure()"
    upload = next(step for step in jobs["qa-staging"]["steps"] if "upload-artifact" in str(step.get("uses")))
    assert upload["if"] == "always()"  # a failed gate's report is the one people most need
    # Every stage job reads the gate store, where sign-offs and gate results are shared between runners.
    for name in ("release-staging", "qa-staging", "release-production", "qa-production"):
        assert "GATE_STORE_URL" in jobs[name]["env"], name


def test_gitlab_runs_the_whole_flow_and_each_stage_waits_for_the_one_before() -> None:
    document = load("gitlab-ci.yml")
    assert "uv run invoke qa --stage local" in commands(document["gate:commit"])
    assert "uv run invoke qa --stage staging --carry-from commit-gate" in commands(document["qa:staging"])
    assert "release:staging" in document["qa:staging"]["needs"]
    assert document["release:production"]["needs"] == ["qa:staging"]
    assert document["release:production"]["when"] == "manual"
    assert "release:production" in document["qa:production"]["needs"]
    assert "invoke rollback --stage production" in " ".join(document["qa:production"]["after_script"])
    artifacts = document["qa:staging"]["artifacts"]
    assert artifacts["when"] == "always"
    assert "staging-gate/release-report.json" in artifacts["paths"]
    for name in ("release:staging", "qa:staging", "release:production", "qa:production"):
        assert "GATE_STORE_URL" in document[name]["variables"], name
