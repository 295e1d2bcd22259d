"""`invoke migrate`: backup, `alembic upgrade head` (or a tested downgrade), then verify.

Migrations run from the stage's checkout in a child process, so the code being released migrates the
database, not the harness's own copy. Verified: revision at the checkout's head, `alembic check`
(schema equals the models), and no table lost rows ("verify no data loss").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from harness.ops.backup import Backup, create_backup
from harness.ops.common import OpsError, Target, confirm, mask, step
from harness.ops.pgtools import alembic_revision, row_counts

_DRIVER = """
import json, sys
from integration_service.db import migrations as m
action, url, revision = sys.argv[1], sys.argv[2], sys.argv[3]
if action == "upgrade":
    m.upgrade(url, revision)
elif action == "downgrade":
    m.downgrade(url, revision)
elif action == "check":
    m.check(url)
print(json.dumps({"head": m.head_revision()}))
"""


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None
    head: str
    backup: Backup | None


def run_alembic(target: Target, action: str, revision: str = "head") -> str:
    """Run one alembic action with the checkout's code; the checkout's head revision."""
    env = {**os.environ, "PYTHONPATH": str(target.checkout / "src")}
    result = subprocess.run(
        [sys.executable, "-c", _DRIVER, action, target.database_url, revision],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=target.checkout,
    )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise OpsError(f"alembic {action} failed: " + " | ".join(tail).replace(target.database_url, "<database>"))
    return str(json.loads(result.stdout.strip().splitlines()[-1])["head"])


def migrate(
    target: Target, *, down: str | None = None, yes: bool = False, dry_run: bool = False, backup: bool = True
) -> MigrationResult:
    before = alembic_revision(target.database_url)
    head = run_alembic(target, "head")
    goal = down or head
    action = "downgrade" if down else "upgrade"
    target.say(f"Migrate {mask(target.database_url)}: {action} {before} → {goal} (code at {target.checkout})")
    if dry_run:
        target.say("[yellow]Dry run[/]: nothing was changed.")
        return MigrationResult(before, before, head, None)
    confirm(target, f"Migrate the database ({action} to {goal})", yes=yes)
    taken = create_backup(target, reason=f"before migrate to {goal}") if backup else None
    counts = row_counts(target.database_url)
    with step(target, f"alembic {action} {goal}"):
        run_alembic(target, action, goal)
    after = alembic_revision(target.database_url)
    if after != goal:
        raise OpsError(f"after {action} the database is at {after}, expected {goal}")
    if not down:
        with step(target, "alembic check (schema matches the models)"):
            run_alembic(target, "check")
        now = row_counts(target.database_url)
        lost = [f"{table}: {rows} → {now.get(table, 0)}" for table, rows in counts.items() if now.get(table, 0) < rows]
        if lost:
            raise OpsError("rows were lost during the migration: " + "; ".join(lost) + " — restore the backup")
    target.say(f"[green]Migrated[/]: {before} → {after}; no table lost rows.")
    return MigrationResult(before, after, head, taken)
