"""The Invoke tasks as a user meets them: listed, and each with --help naming its options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.core.paths import PROJECT_ROOT

# e2e: starts `invoke` subprocesses of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e

OPERATIONS = ("backup", "restore", "migrate", "smoke", "deploy", "release", "rollback", "monitor", "signoff", "report")


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_tasks_are_listed() -> None:
    listed = invoke("--list")
    assert listed.returncode == 0, listed.stderr
    for name in ("up", "token", "qa", "load", "bench", "fuzz", *OPERATIONS):
        assert f"  {name} " in listed.stdout


@pytest.mark.parametrize(
    ("task", "options"),
    [
        ("up", ["--port", "8000", "--workers"]),
        ("token", ["--user", "--stage", "--label", "--rate-limit"]),
        ("qa", ["--stage", "local | staging | production"]),
        ("load", ["--profile", "--workers"]),
        ("bench", ["--rounds", "--users", "--model-users", "--integrations", "--seconds", "--warmup"]),
        ("fuzz", ["--stage"]),
        *((task, ["--stage"]) for task in OPERATIONS),
        ("restore", ["--backup"]),
        ("signoff", ["--role", "--name"]),
        ("rollback", ["--dry-run"]),
    ],
)
def test_each_task_explains_itself(task: str, options: list[str]) -> None:
    shown = invoke("--help", task)
    assert shown.returncode == 0, shown.stderr
    assert "Docstring:" in shown.stdout
    for option in options:
        assert option in shown.stdout


def test_an_unknown_stage_is_a_clear_error_not_a_traceback() -> None:
    result = invoke("token", "--user", "someone", "--stage", "prod")
    assert result.returncode == 2
    assert "unknown stage 'prod'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_after_the_task_name_is_help_not_a_user_name() -> None:
    shown = invoke("token", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "--user=STRING" in shown.stdout
    assert "Issuing a token" not in shown.stderr


def test_a_token_without_a_user_is_a_clear_error() -> None:
    result = invoke("token")
    assert result.returncode == 2
    assert "--user NAME" in result.stderr
    assert "Traceback" not in result.stderr


def test_listing_the_tasks_loads_no_harness_module_beyond_the_stages() -> None:
    # Each task imports what it needs when it runs, so `invoke --list` and `--help` stay fast.
    probe = (
        "import sys, tasks; print(sorted(m for m in sys.modules if m.startswith(('harness.', 'integration_service'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "['harness.core', 'harness.core.stages']"
