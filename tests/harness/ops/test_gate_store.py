"""The gate store: sign-offs recorded by one runner are seen by another runner in a fresh clone, through the
stage's database; a rollback's backup and restore never touch them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from harness.core.paths import PROJECT_ROOT
from harness.ops import gate_store
from harness.ops.backup import create_backup
from harness.ops.common import Target, git_sha
from harness.ops.pgtools import GATE_SCHEMA, find_tools
from harness.ops.restore import restore
from harness.ops.signoff import ROLES, missing_signoffs, recorded_attestations
from tests.harness.ops.drill import git, make_checkout, make_target

pytestmark = pytest.mark.db

# Runner A: a separate process in checkout A, signing off as its CI identity, as `invoke signoff` would.
RUNNER = """
import sys
from pathlib import Path
from harness.ops.common import Target
from harness.ops.gate_store import gate_store_url
from harness.ops.signoff import record_signoff
checkout, stage = Path(sys.argv[1]), sys.argv[2]
target = Target(stage=stage, database_url="", checkout=checkout, state_dir=checkout / ".stack" / "ops",
                gate_store_url=gate_store_url(stage, checkout))
for role in sys.argv[3:]:
    record_signoff(target, role, None)
"""


def run_signoffs(checkout: Path, stage: str, roles: tuple[str, ...], env: dict[str, str]) -> None:
    ci_free = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "GATE_STORE_URL")}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(checkout), stage, *roles],
        env={**ci_free, "DATABASE_URL": "", **env},
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def runner(checkout: Path, stage: str) -> Target:
    """Runner B, in its own checkout: what it knows of the store comes from its own settings file."""
    return Target(
        stage=stage,  # type: ignore[arg-type]
        database_url="",
        checkout=checkout,
        state_dir=checkout / ".stack" / "ops",
        gate_store_url=gate_store.gate_store_url(stage, checkout),  # type: ignore[arg-type]
    )


@pytest.mark.e2e  # two git checkouts and two runner subprocesses, as two CI runners would be
def test_signoffs_recorded_on_one_runner_are_seen_by_a_fresh_clone(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GATE_STORE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    first, sha = make_checkout(tmp_path / "runner-a")
    second = tmp_path / "runner-b"
    git(tmp_path, "clone", "--quiet", str(first), str(second))
    assert git_sha(second) == sha
    (second / ".env.staging").write_text(f"DATABASE_URL={database_url}\n")  # runner B's own stage settings

    run_signoffs(first, "staging", ROLES, {"DATABASE_URL": database_url, "GITHUB_ACTOR": "octocat"})

    seen = runner(second, "staging")
    assert missing_signoffs(seen, sha) == []
    attested = recorded_attestations(seen, sha)
    assert attested["SIGN-01"].startswith("octocat at ")
    assert attested["SIGN-01"].endswith(", as qa (ci:GITHUB_ACTOR)")
    assert not (second / ".stack").exists()  # nothing came through files

    # The local stage without GATE_STORE_URL keeps its sign-offs in the runner's files: the clone sees none.
    run_signoffs(first, "local", ("qa",), {"USER": "dev"})
    assert (first / ".stack" / "ops" / "signoffs" / f"{sha}.json").exists()
    assert missing_signoffs(runner(second, "local"), sha) == list(ROLES)


def test_a_restore_never_touches_the_gate_store(database_url: str, tmp_path: Path) -> None:
    target = make_target(database_url, tmp_path, PROJECT_ROOT)
    gate_store.record_signoff(database_url, commit="a" * 40, stage="staging", role="qa", name="Quinn", source="cli")
    backup = create_backup(target)
    listed = subprocess.run(
        [find_tools(database_url).pg_restore, "--list", str(backup.path)], capture_output=True, text=True, check=True
    ).stdout
    assert GATE_SCHEMA not in listed  # the dump leaves the schema out
    gate_store.record_signoff(database_url, commit="a" * 40, stage="staging", role="devops", name="Dev", source="cli")
    restore(target, str(backup.path), yes=True)
    assert set(gate_store.signoff_records(database_url, "a" * 40)) == {"qa", "devops"}  # both survive


def test_two_runners_creating_the_store_at_once_both_succeed(empty_database_url: str) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            gate_store.ensure(empty_database_url)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(empty_database_url) as connection:
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [GATE_SCHEMA]
        ).fetchall()
    assert tables == [("gate_results",), ("signoffs",)]


def test_the_gate_records_its_result_and_reads_sign_offs_and_proofs_from_the_store(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A staging runner with nothing on disk: the commit's local pass and the sign-offs come from the store,
    and its own result goes there for the production runner."""
    from harness.core.runs import git_state
    from harness.qa import run_qa
    from tests.harness.test_qa import StaticGate, quiet

    monkeypatch.setenv("GATE_STORE_URL", empty_database_url)
    sha = git_state(PROJECT_ROOT)[0]
    local_pass = {"stage": "local", "verdict": "pass", "git_sha": sha, "git_dirty": False, "partial": None}
    run_id = "20261203T000000Z-local"
    local_pass |= {"run_id": run_id, "checklist": [{"id": "CQ-01", "status": "passed"}]}
    gate_store.record_gate_result(
        empty_database_url,
        commit=sha,
        stage="local",
        run_id=run_id,
        verdict="pass",
        partial=False,
        recorded_by="ci:another-runner",
        report=local_pass,
    )
    gate_store.record_signoff(empty_database_url, commit=sha, stage="staging", role="qa", name="Quinn", source="cli")

    outcome = run_qa("staging", gates=[StaticGate("scenarios", "passed", ())], reports_dir=tmp_path, console=quiet())

    entries = {entry.id: entry for entry in outcome.report.checklist}
    assert entries["CQ-01"].status == "passed", entries["CQ-01"]
    assert "gate store" in entries["CQ-01"].detail
    assert entries["SIGN-01"].status == "attested", entries["SIGN-01"]
    assert "Quinn" in entries["SIGN-01"].detail
    with psycopg.connect(empty_database_url) as connection:
        stored = connection.execute(
            "SELECT verdict, partial, report->>'run_id' FROM release_gate.gate_results WHERE stage = 'staging'"
        ).fetchall()
    assert stored == [(outcome.report.verdict, False, outcome.run_dir.name)]
