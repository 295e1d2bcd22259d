"""The fuzz gate can fail: with the project's own Schemathesis configuration, a 500 planted in one
route of a running API is found and reported, and the same API without it passes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.core.paths import PROJECT_ROOT
from harness.core.processes import ServerProcess, free_port, uvicorn_command
from harness.gates.fuzz import run_schemathesis

# e2e: starts a service and Schemathesis runs of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e


def serve(tmp_path: Path) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        name="broken service",
        command=uvicorn_command("tests.contract.broken_service:create_app", port),
        port=port,
        log_path=tmp_path / "broken.log",
        env={"PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])},
        ready_path="/api/health",
    )


def test_a_planted_500_is_found_and_named(tmp_path: Path) -> None:
    with serve(tmp_path) as api:
        outcome = run_schemathesis(
            f"{api.url}/openapi.json", "not-a-secret", tmp_path / "fuzz", ["--max-examples", "30"]
        )
    assert not outcome.passed
    assert outcome.failures >= 1
    junit = (tmp_path / "fuzz" / "junit.xml").read_text()
    assert "/api/average" in junit
    assert "Server error" in junit or "500" in junit


def test_the_healthy_operation_alone_passes(tmp_path: Path) -> None:
    with serve(tmp_path) as api:
        outcome = run_schemathesis(
            f"{api.url}/openapi.json",
            "not-a-secret",
            tmp_path / "fuzz",
            ["--max-examples", "10", "--include-path", "/api/health"],
        )
    assert outcome.passed, outcome.summary()
