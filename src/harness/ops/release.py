"""`invoke release`: (production: staging gate passed and sign-offs for this sha) backup → migrate →
deploy → smoke; any failure after the backup runs the rollback automatically and exits non-zero."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from harness.ops.backup import create_backup
from harness.ops.common import OpsError, Target, append_record, confirm, git_sha, utc_now
from harness.ops.deploy import deploy, last_deploy
from harness.ops.migrate import migrate
from harness.ops.pgtools import alembic_revision
from harness.ops.rollback import release_log, rollback
from harness.ops.signoff import missing_signoffs
from harness.ops.smoke import smoke
from harness.proofs import find_earlier_run


def staging_gate_passed(reports_dir: Path, sha: str) -> bool:
    """A complete staging gate run with verdict pass for exactly this sha."""
    return find_earlier_run(sha, "staging", reports_dir=reports_dir) is not None


def preflight(target: Target, sha: str, reports_dir: Path) -> None:
    if target.stage != "production":
        return
    problems = []
    if not staging_gate_passed(reports_dir, sha):
        problems.append(f"no passing staging gate for {sha[:10]} (run `invoke qa --stage staging` on this commit)")
    missing = missing_signoffs(target, sha)
    if missing:
        problems.append(f"sign-offs missing for {sha[:10]}: {', '.join(missing)} (`invoke signoff --role ...`)")
    if problems:
        raise OpsError("refusing to release to production: " + "; ".join(problems))


def release(target: Target, *, reports_dir: Path, yes: bool = False, dry_run: bool = False) -> dict[str, Any]:
    sha = git_sha(target.checkout)
    preflight(target, sha, reports_dir)
    previous = last_deploy(target)
    if previous is None:
        raise OpsError(
            f"no previous deploy of {target.stage} is recorded: a release needs one to roll back to "
            "(run `invoke deploy` for the running version first)"
        )
    target.say(
        f"Release {sha[:10]} to {target.stage} (live now: {previous['sha'][:10]}): backup → migrate → deploy → smoke"
    )
    if dry_run:
        target.say("[yellow]Dry run[/]: preflight passed; nothing was changed.")
        return {"sha": sha, "previous_sha": previous["sha"], "status": "dry-run"}
    confirm(target, f"Release {sha[:10]}", yes=yes)
    record: dict[str, Any] = {
        "id": uuid.uuid4().hex[:12],
        "stage": target.stage,
        "sha": sha,
        "previous_sha": previous["sha"],
        "started_at": utc_now().isoformat(),
        "revision_before": alembic_revision(target.database_url),
    }
    try:
        backup = create_backup(target, verify=False, reason=f"before release {sha[:10]}")
        record["backup"] = str(backup.path)
        append_record(release_log(target), {**record, "status": "started"})
        migrated = migrate(target, yes=True, backup=False)
        record["revision_after"] = migrated.after
        deploy(target, yes=True, reason=f"release {record['id']}")
        outcome = smoke(target)
        if not outcome.passed:
            raise OpsError("smoke tests failed: " + "; ".join(outcome.failures()))
    except OpsError as failure:
        record.update(status="failed", error=str(failure)[:800], finished_at=utc_now().isoformat())
        append_record(release_log(target), record)
        target.say(f"[bold red]Release failed[/]: {failure}")
        if "backup" in record:
            target.say("[bold]Rolling back automatically[/]")
            rollback(target, record, yes=True)
        raise OpsError(f"release of {sha[:10]} failed and was rolled back: {failure}") from None
    record.update(status="released", finished_at=utc_now().isoformat())
    append_record(release_log(target), record)
    target.say(f"[bold green]Released[/] {sha[:10]} to {target.stage}.")
    return record
