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


def test_github_actions_blocks_the_release_on_the_staging_gate() -> None:
    jobs = load("github-actions.yml")["jobs"]
    assert "uv run invoke qa --stage staging" in commands(jobs["qa-staging"])
    assert jobs["release"]["needs"] == "qa-staging"
    upload = next(step for step in jobs["qa-staging"]["steps"] if "upload-artifact" in str(step.get("uses")))
    assert upload["if"] == "always()"  # a failed gate's report is the one people most need
    assert "reports/latest/release-report.html" in upload["with"]["path"]
    assert "reports/latest/junit.xml" in upload["with"]["path"]


def test_gitlab_blocks_the_release_on_the_staging_gate() -> None:
    document = load("gitlab-ci.yml")
    assert "uv run invoke qa --stage staging" in commands(document["qa:staging"])
    assert document["release:production"]["needs"] == ["qa:staging"]
    artifacts = document["qa:staging"]["artifacts"]
    assert artifacts["when"] == "always"
    assert "release-report/junit.xml" in artifacts["reports"]["junit"]
    assert "release-report/release-report.html" in artifacts["paths"]
