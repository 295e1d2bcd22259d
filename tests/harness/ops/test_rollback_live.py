"""Rollback planned from the live stage, on a stage deployed by a DEPLOY_COMMAND (tests/harness/ops/
stage_deploy.py: records its environment, deploys $DEPLOY_SHA from the repository, restarts the service).

A release blocked by a skipped smoke check (rolled back automatically) → a release with that check waived
(recorded) → rows written after it → a rollback stops and names them → with --accept-data-loss it restores
(the safety dump named) and redeploys the previous release's commit as DEPLOY_SHA → a second rollback is a
no-op. And a deploy whose stage keeps reporting another commit fails, naming it.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from harness.core.processes import free_port
from harness.ops.common import OpsError, Target, append_record, read_records
from harness.ops.deploy import deploy, deploy_log, running_sha
from harness.ops.pgtools import alembic_revision
from harness.ops.release import release
from harness.ops.rollback import rollback
from harness.ops.smoke import CHECK_NAMES
from integration_service.security.api_tokens import issue_token_at
from tests.harness.ops.drill import git, make_checkout, make_target, write_customer_data, write_release

# e2e: starts a deployed stage and runs its release path of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = [pytest.mark.db, pytest.mark.e2e]

STAGE_DEPLOY = Path(__file__).with_name("stage_deploy.py")
WEBHOOK_SECRET = f"whsec_{uuid.uuid4().hex}"


@pytest.fixture
def stage(drill_database: str, tmp_path: Path) -> Iterator[Target]:
    """A 'staging' stage on this machine: its database, its service on a port, deployed by DEPLOY_COMMAND."""
    checkout, _ = make_checkout(tmp_path)
    port, state = free_port(), tmp_path / "stage"
    settings = tmp_path / "stage-settings.json"
    settings.write_text(
        json.dumps(
            {
                "STAGE": "local",  # the service's own rules; the harness treats the stage as staging
                "DATABASE_URL": drill_database,
                "PUBLIC_URL": f"http://127.0.0.1:{port}",
                "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
                "PAYPAL_WEBHOOK_ID": "WH-DRILL",
                "REDIS_KEY_PREFIX": f"integrations:drill-{uuid.uuid4().hex[:8]}",
            }
        )
    )
    command = (
        f"{sys.executable} {STAGE_DEPLOY} --repository {checkout} --state {state} --port {port} --settings {settings}"
    )
    target = make_target(
        drill_database,
        tmp_path,
        checkout,
        stage="staging",
        service_url=f"http://127.0.0.1:{port}",
        deploy_command=command,
        smoke_api_token=issue_token_at(drill_database, "smoke-user"),
        stripe_webhook_secret=WEBHOOK_SECRET,
        console=Console(file=io.StringIO(), width=400),
    )
    yield target
    subprocess.run([sys.executable, str(STAGE_DEPLOY), "--stop", str(state)], check=False)


def output(target: Target) -> str:
    """What the operator saw since the last call."""
    file = target.console.file
    assert isinstance(file, io.StringIO)
    text = file.getvalue()
    file.seek(0)
    file.truncate()
    return text


def deploy_commands(target: Target) -> list[str]:
    """DEPLOY_SHA of every run of the stage's DEPLOY_COMMAND, as the command itself recorded it."""
    records = read_records(target.state_dir.parent / "stage" / "deploy-commands.jsonl")
    assert all(record["DEPLOY_STAGE"] == "staging" for record in records)
    return [record["DEPLOY_SHA"] for record in records]


def live_sha(target: Target) -> str:
    return str(httpx.get(f"{target.service_url}/api/version", timeout=10).json()["gitSha"])


def backups(target: Target) -> list[Path]:
    return sorted(target.backups_dir.glob("*.dump"))


def test_rollback_is_planned_from_the_live_stage_stops_before_losing_rows_and_is_idempotent(stage: Target) -> None:
    checkout = stage.checkout
    previous_sha = git(checkout, "rev-parse", "HEAD")
    deploy(stage, yes=True)
    write_customer_data(stage.database_url, "customer")
    revision_before = alembic_revision(stage.database_url)
    write_release(checkout, broken=False)
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "a release with migration 9999drill")
    released_sha = git(checkout, "rev-parse", "HEAD")

    # A skipped smoke check blocks the release (no SMOKE_INTEGRATION_ID here: the sync is not checked).
    with pytest.raises(OpsError, match=r"smoke tests failed: sync: skipped \(set SMOKE_INTEGRATION_ID"):
        release(stage, reports_dir=stage.state_dir / "reports", yes=True)
    assert deploy_commands(stage) == [previous_sha, released_sha, previous_sha]  # rolled back automatically
    assert (live_sha(stage), alembic_revision(stage.database_url)) == (previous_sha, revision_before)

    # Waived by name, it no longer blocks; the waiver is shown and recorded.
    output(stage)
    record = release(stage, reports_dir=stage.state_dir / "reports", yes=True, waive=["sync"])
    assert record["status"] == "released"
    assert record["waived"] == ["sync"]
    assert record["previous_sha"] == previous_sha
    assert "by " in record["previous_sha_from"] or "reported by" in record["previous_sha_from"]
    assert "Released" in (shown := output(stage))
    assert "Waived: sync." in shown
    assert (live_sha(stage), alembic_revision(stage.database_url)) == (released_sha, "9999drill")

    # After the release: a new customer (rows in four tables) and a change to an existing integration.
    write_customer_data(stage.database_url, "late-customer")
    token = issue_token_at(stage.database_url, "customer")
    with httpx.Client(base_url=str(stage.service_url), headers={"Authorization": f"Bearer {token}"}) as api:
        [integration] = api.get("/api/integrations").json()["integrations"]
        renamed = api.patch(f"/api/integrations/{integration['id']}", json={"integrationName": "renamed books"})
        assert renamed.status_code == 200, renamed.text
    dumps_before = backups(stage)

    with pytest.raises(OpsError, match="stopped before the restore, nothing was changed") as stopped:
        rollback(stage, yes=True, waive=["sync"])
    refusal = str(stopped.value)
    assert "integrations_credentials: 2 (1 new, 1 changed)" in refusal
    for table in ("users", "integrations_sync_logs", "xero_invoices"):
        assert f"{table}: 1 (1 new)" in refusal, refusal
    assert "--accept-data-loss" in refusal
    assert (live_sha(stage), alembic_revision(stage.database_url)) == (released_sha, "9999drill")
    assert backups(stage) == dumps_before  # not even a safety backup: nothing was touched
    assert deploy_commands(stage)[-1] == released_sha

    output(stage)
    rolled_back = rollback(stage, yes=True, accept_data_loss=True, waive=["sync"])
    shown = output(stage)
    safety = Path(rolled_back["safety_backup"])
    assert safety.exists()
    assert str(safety) in shown
    assert rolled_back["redeployed"] == previous_sha
    assert deploy_commands(stage)[-1] == previous_sha  # DEPLOY_SHA: the previous release's commit
    assert (live_sha(stage), alembic_revision(stage.database_url)) == (previous_sha, revision_before)
    assert git(checkout, "rev-parse", "HEAD") == released_sha  # nothing reverted or committed in the checkout

    runs, dumps = len(deploy_commands(stage)), backups(stage)
    again = rollback(stage, yes=True, waive=["sync"])
    assert again["status"] == "noop"
    assert again["reason"].startswith(f"nothing to roll back: staging already runs {previous_sha[:10]}")
    assert "nothing to roll back" in output(stage)
    assert len(deploy_commands(stage)) == runs  # no redeploy
    assert backups(stage) == dumps  # no restore
    assert read_records(stage.state_dir / "rollbacks.jsonl")[-1]["status"] == "noop"


def test_a_deploy_fails_when_the_stage_keeps_reporting_another_commit(stage: Target) -> None:
    deploy(stage, yes=True)
    running = live_sha(stage)
    ignored = Target(**{**stage.__dict__, "deploy_command": "true", "deploy_wait_s": 2.0})  # deploys nothing
    wanted = "f" * 40
    with pytest.raises(OpsError, match=f"did not report {wanted} within 2 s of the deploy \\(it reports {running}\\)"):
        deploy(ignored, sha=wanted, yes=True)
    failed = read_records(deploy_log(stage))[-1]
    assert (failed["sha"], failed["result"]) == (wanted, "failed")


def test_when_the_stage_cannot_answer_the_deploy_log_is_used_and_said_so(tmp_path: Path) -> None:
    target = Target(stage="staging", database_url="", state_dir=tmp_path, service_url=f"http://127.0.0.1:{free_port()}")
    append_record(deploy_log(target), {"stage": "staging", "sha": "a" * 40, "result": "ok"})
    sha, how = running_sha(target)
    assert sha == "a" * 40
    assert how.startswith("from the deploy log, because the stage cannot tell: ")
    assert "/api/version did not answer" in how


def test_every_smoke_check_can_be_waived_by_name() -> None:
    assert "sync" in CHECK_NAMES
    with pytest.raises(OpsError, match="--waive names no smoke check: synk"):
        release(Target(stage="local", database_url=""), reports_dir=Path("."), waive=["synk"])
