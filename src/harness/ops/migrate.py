"""`invoke migrate`: backup, `alembic upgrade head` (or a tested downgrade), then verify.

Migrations run from the stage's checkout in a child process, so the code being released migrates the
database, not the harness's own copy. Verified: revision at the checkout's head, `alembic check`
(schema equals the models), and no table lost rows ("verify no data loss").

`--down REV`, the tested downgrade: REV must be a revision of the checkout older than the database's
(anything else is refused before the backup); afterwards the database is at REV and no remaining
table lost rows. Tables the downgrade removes are reported; their rows are in the backup taken first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

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
from alembic.script import ScriptDirectory
script = ScriptDirectory.from_config(m.alembic_config("postgresql://unused"))
order = [s.revision for s in script.walk_revisions()]  # newest first
print(json.dumps({"head": m.head_revision(), "revisions": order}))
"""


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None
    head: str
    backup: Backup | None


def run_alembic(target: Target, action: str, revision: str = "head") -> str:
    """Run one alembic action with the checkout's code; the checkout's head revision."""
    return str(_run_driver(target, action, revision)["head"])


def checkout_revisions(target: Target) -> list[str]:
    """The checkout's migration revisions, newest first."""
    return [str(revision) for revision in _run_driver(target, "head", "head")["revisions"]]


def _run_driver(target: Target, action: str, revision: str) -> dict[str, Any]:
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
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def migrate(
    target: Target, *, down: str | None = None, yes: bool = False, dry_run: bool = False, backup: bool = True
) -> MigrationResult:
    before = alembic_revision(target.database_url)
    revisions = checkout_revisions(target)
    head = revisions[0]
    if down:
        refuse_downgrade(down, before, revisions)
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
    lost = [f"{table}: {rows} → {now[table]}" for table, rows in counts.items() if table in now and now[table] < rows]
    if not down:  # an upgrade drops no table that had rows
        lost += [f"{table}: {rows} → table gone" for table, rows in counts.items() if table not in now and rows]
    if lost:
        raise OpsError("rows were lost during the migration: " + "; ".join(lost) + " — restore the backup")
    dropped = sorted(table for table in counts if table not in now)
    if dropped:  # a downgrade removes what its revisions added; their rows are in the backup
        kept_in = f" (their rows are in {taken.path.name})" if taken else ""
        target.say(f"  the downgrade removed the table(s) {', '.join(dropped)}{kept_in}")
    target.say(f"[green]Migrated[/]: {before} → {after}; no remaining table lost rows.")
    return MigrationResult(before, after, head, taken)


def refuse_downgrade(down: str, current: str | None, revisions: list[str]) -> None:
    """`--down REV`: a revision of the checkout, older than the database's current one."""
    if down not in revisions:
        raise OpsError(
            f"unknown revision {down!r}: the checkout's revisions are {', '.join(revisions)} (newest first); "
            "nothing was changed"
        )
    if current is None or current not in revisions:
        raise OpsError(f"the database is at revision {current!r}, which this checkout does not know: cannot downgrade")
    if revisions.index(down) <= revisions.index(current):
        raise OpsError(
            f"{down} is not older than the database's revision {current}: --down only downgrades "
            "(use `invoke migrate` to upgrade)"
        )
