"""The rate-limit scenarios never let an untestable setting pass: a limit too high to reach fails the
item, and the shared-limit scenario reports skipped, not passed, on a stage without Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.test_defect_injection import gate_run

# e2e: starts a service and runs the edge gate of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e


def test_a_rate_limit_no_burst_can_reach_fails_the_item(
    tmp_path: Path, database_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT", "100000/minute")  # the stage's setting: the service and the steps read it
    outcome = gate_run(tmp_path, database_server_url, frozenset({"SEC-04"}), None)
    entry = next(entry for entry in outcome.report.checklist if entry.id == "SEC-04")
    assert entry.status == "failed", entry.detail


def test_the_shared_limit_is_skipped_not_passed_without_redis(
    tmp_path: Path, database_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    outcome = gate_run(tmp_path, database_server_url, frozenset({"SECT-05"}), None)
    entry = next(entry for entry in outcome.report.checklist if entry.id == "SECT-05")
    assert entry.status == "skipped", entry.detail
    assert "needs Redis" in entry.detail
