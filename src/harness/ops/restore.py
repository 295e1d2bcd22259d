"""`invoke restore`: a checked backup over the stage's database, in one transaction, then proved.

Order matters: the archive is checked against its manifest and by `pg_restore --list` BEFORE the
database is touched; a safety backup of the current state comes next; then `pg_restore --clean
--if-exists --single-transaction` (all or nothing); then the row counts must equal the manifest's.
The harness's `release_gate` schema is in no archive, so a restore never touches sign-offs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import psycopg
from psycopg import sql

from harness.ops.backup import Backup, check_archive, compare_counts, create_backup, resolve_backup
from harness.ops.common import OpsError, Target, confirm, mask, step
from harness.ops.pgtools import find_tools, libpq_args, public_tables, row_counts


@dataclass(frozen=True)
class Restored:
    backup: Backup
    safety: Backup | None  # the state just before the restore (None: dry run, or no safety backup asked for)


def restore(
    target: Target,
    choice: str,
    *,
    yes: bool = False,
    dry_run: bool = False,
    safety_backup: bool = True,
    drop_extra_tables: bool = False,
) -> Restored:
    backup = resolve_backup(target, choice)
    tools = find_tools(target.database_url)
    check_archive(tools, backup)  # before anything else: a bad archive never reaches the database
    manifest = backup.manifest
    target.say(
        f"Restore {backup.path.name} (taken {manifest['created_at']}, revision {manifest['alembic_revision']}, "
        f"git {manifest['git_sha'][:10]}) over {mask(target.database_url)}"
    )
    if dry_run:
        target.say("[yellow]Dry run[/]: the archive is valid; nothing was changed.")
        return Restored(backup, None)
    confirm(target, f"Replace the database with {backup.path.name}", yes=yes)
    safety = None
    if safety_backup:
        target.say("Safety backup of the current state first:")
        safety = create_backup(target, reason=f"before restoring {backup.path.name}")
    with step(target, "pg_restore --clean --if-exists --single-transaction"):
        restored = subprocess.run(
            [
                tools.pg_restore,
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                *libpq_args(target.database_url),
                str(backup.path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if restored.returncode != 0:
        raise OpsError(f"pg_restore failed and was rolled back (the database is unchanged): {restored.stderr[-1000:]}")
    if drop_extra_tables:
        drop_tables_not_in(target, set(manifest["row_counts"]))
    differences = compare_counts(manifest["row_counts"], row_counts(target.database_url))
    if differences:
        raise OpsError("restored, but the row counts differ from the manifest: " + "; ".join(differences))
    target.say(f"[green]Restored[/] {backup.path.name}: row counts match the manifest.")
    if safety is not None:
        target.say(f"  the state before the restore is kept in {safety.path}")
    return Restored(backup, safety)


def drop_tables_not_in(target: Target, expected: set[str]) -> list[str]:
    """Tables a later migration created (not in the backup): --clean only drops what the archive holds."""
    with psycopg.connect(target.database_url) as connection:
        extra = [table for table in public_tables(connection) if table not in expected]
        for table in extra:
            connection.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))
    for table in extra:
        target.say(f"  dropped table {table} (created after the backup)")
    return extra
