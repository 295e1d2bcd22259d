"""`invoke release`: (production: a passing staging gate and every sign-off for this sha) backup → migrate →
deploy → smoke; any failure after the backup runs the rollback automatically and exits non-zero.

The release records the commit the stage ran before it (`previous_sha`, as the stage reports it: the
one a rollback redeploys) and the revision before it. A smoke check that was skipped blocks the release
unless waived by name (`--waive CHECK`); the waivers are shown and recorded. The automatic rollback
accepts losing rows written during the failed release (the smoke's, the migration's, any a user wrote
meanwhile): they are listed, and the safety backup that keeps them is named in the rollback record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.core.proofs import find_earlier_run
from harness.ops import gate_store
from harness.ops.backup import create_backup
from harness.ops.common import OpsError, Target, append_record, confirm, git_sha, utc_now
from harness.ops.deploy import deploy, running_sha
from harness.ops.migrate import migrate
from harness.ops.pgtools import alembic_revision
from harness.ops.rollback import release_log, rollback
from harness.ops.signoff import missing_signoffs
from harness.ops.smoke import smoke, waivers


def staging_gate_passed(target: Target, reports_dir: Path, sha: str) -> bool:
    """A complete staging gate with verdict pass for exactly this sha: in this runner's reports, or in the
    gate store every runner of the stage shares."""
    store = gate_store.store_lookup(target.gate_store_url) if target.gate_store_url else None
    return find_earlier_run(sha, "staging", reports_dir=reports_dir, store=store) is not None


def preflight(target: Target, sha: str, reports_dir: Path) -> None:
    if target.stage != "production":
        return
    problems = []
    if not staging_gate_passed(target, reports_dir, sha):
        problems.append(f"no passing staging gate for {sha[:10]} (run `invoke qa --stage staging` on this commit)")
    missing = missing_signoffs(target, sha)
    if missing:
        problems.append(f"sign-offs missing for {sha[:10]}: {', '.join(missing)} (`invoke signoff --role ...`)")
    if problems:
        raise OpsError("refusing to release to production: " + "; ".join(problems))


# Over 60 lines: the release procedure in its order (backup, migrate, deploy, smoke, rollback), read top to bottom.
def release(
    target: Target,
    *,
    reports_dir: Path,
    yes: bool = False,
    dry_run: bool = False,
    waive: Sequence[str] = (),
) -> dict[str, Any]:
    sha = git_sha(target.checkout)
    waived = sorted(waivers(waive))
    preflight(target, sha, reports_dir)
    previous_sha, known_by = running_sha(target)
    if previous_sha is None:
        raise OpsError(
            f"cannot tell which commit {target.stage} runs ({known_by}): a release needs it to roll back to "
            "(run `invoke deploy` for the running version first)"
        )
    target.say(
        f"Release {sha[:10]} to {target.stage} (live now: {previous_sha[:10]}, {known_by}): "
        "backup → migrate → deploy → smoke"
    )
    if waived:
        target.say(f"[yellow]Waived smoke checks[/] (may be skipped without blocking): {', '.join(waived)}")
    if dry_run:
        target.say("[yellow]Dry run[/]: preflight passed; nothing was changed.")
        return {"sha": sha, "previous_sha": previous_sha, "status": "dry-run"}
    confirm(target, f"Release {sha[:10]}", yes=yes)
    record: dict[str, Any] = {
        "id": uuid.uuid4().hex[:12],
        "stage": target.stage,
        "sha": sha,
        "previous_sha": previous_sha,
        "previous_sha_from": known_by,
        "started_at": utc_now().isoformat(),
        "revision_before": alembic_revision(target.database_url),
        "waived": waived,
    }
    try:
        backup = create_backup(target, verify=False, reason=f"before release {sha[:10]}")
        record["backup"] = str(backup.path)
        append_record(release_log(target), {**record, "status": "started"})
        migrated = migrate(target, yes=True, backup=False)
        record["revision_after"] = migrated.after
        deploy(target, yes=True, reason=f"release {record['id']}")
        outcome = smoke(target, waived)
        record["smoke_skipped"] = outcome.skipped()
        if not outcome.passed:
            raise OpsError("smoke tests failed: " + "; ".join(outcome.failures()))
    except OpsError as failure:
        record.update(status="failed", error=str(failure)[:800], finished_at=utc_now().isoformat())
        append_record(release_log(target), record)
        target.say(f"[bold red]Release failed[/]: {failure}")
        if "backup" in record:
            target.say("[bold]Rolling back automatically[/]")
            rollback(target, record, yes=True, accept_data_loss=True, waive=waived)
        raise OpsError(f"release of {sha[:10]} failed and was rolled back: {failure}") from None
    record.update(status="released", finished_at=utc_now().isoformat())
    append_record(release_log(target), record)
    target.say(
        f"[bold green]Released[/] {sha[:10]} to {target.stage}." + (f" Waived: {', '.join(waived)}." if waived else "")
    )
    return record
