"""Steps of the migration, backup and restore procedures: a migration on a scratch database one revision
behind (its backup, restore and drift check), and a production migration that loses rows, stopped and
undone by restoring its backup.
"""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from harness.ops.backup import Backup, list_backups, verify_by_restoring
from harness.ops.common import OpsError
from harness.ops.migrate import MigrationResult, migrate, run_alembic
from harness.ops.pgtools import alembic_revision, find_tools, row_counts, table_snapshot
from harness.ops.restore import restore
from steps.support.lab import OpsLab, head_revision, previous_revision, seed_customer
from steps.support.scratch_checkout import LOSSY, add_migration, git, make_checkout

# --- migration, backup and restore on a scratch database ----------------------------------------------


@given("a scratch database one migration behind the code, holding a customer's integration, sync logs and invoices")
def scratch_behind(ops: OpsLab) -> None:
    target = ops.new_target(ops.scratch_database())
    run_alembic(target, "downgrade", previous_revision())
    seed_customer(ops)
    ops.facts.counts_before = row_counts(target.database_url)


@when("the migration procedure runs on the scratch database")
def run_migration(ops: OpsLab) -> None:
    ops.facts.migration = migrate(ops.current())


@then("a backup was taken before the migration, its manifest counting every row that was there")
def migration_backup(ops: OpsLab) -> None:
    result: MigrationResult = ops.facts.migration
    assert result.backup is not None, "the migration procedure took no backup before migrating"
    manifest = result.backup.manifest
    assert manifest["row_counts"] == ops.facts.counts_before, (
        f"the backup's manifest counts {manifest['row_counts']}, the database held {ops.facts.counts_before}"
    )
    assert manifest["alembic_revision"] == previous_revision(), (
        f"the backup should be of revision {previous_revision()}, its manifest says {manifest['alembic_revision']}"
    )


@then("the backup restores into a fresh database with exactly the rows its manifest counts")
def backup_restores(ops: OpsLab) -> None:
    result: MigrationResult = ops.facts.migration
    assert result.backup is not None, "no backup to restore"
    target = ops.current()
    verify_by_restoring(target, find_tools(target.database_url), result.backup)  # raises on any difference


@then("the scratch database is at the code's newest migration and its schema matches the code's models")
def at_head_without_drift(ops: OpsLab) -> None:
    target = ops.current()
    revision = alembic_revision(target.database_url)
    assert revision == head_revision(), f"expected revision {head_revision()}, the database is at {revision}"
    run_alembic(target, "check")  # raises when the schema differs from the models


@then("every table of the scratch database kept all of its rows")
def no_rows_lost(ops: OpsLab) -> None:
    before: dict[str, int] = ops.facts.counts_before
    after = row_counts(ops.current().database_url)
    lost = {table: (rows, after.get(table, 0)) for table, rows in before.items() if after.get(table, 0) < rows}
    assert lost == {}, f"tables lost rows (before, after): {lost}"
    with ops.sql() as connection:
        row = connection.execute(
            "SELECT count(*) FROM integrations_credentials WHERE integration_name = 'customer-books'"
        ).fetchone()
    assert row == (1,), "the customer's integration is gone after the migration"


# --- a production migration that loses rows, stopped and undone ---------------------------------------


@given(
    "a scratch production database at the newest migration from a git checkout, holding customers' integrations "
    "and sync logs"
)
def production_database(ops: OpsLab) -> None:
    checkout = make_checkout(ops.root)
    target = ops.new_target(ops.scratch_database(), stage="production", checkout=checkout)
    seed_customer(ops)
    ops.facts.counts_before = row_counts(target.database_url)
    ops.facts.snapshot = table_snapshot(target.database_url)


@given("a new commit in the checkout whose migration deletes the failed sync logs")
def lossy_commit(ops: OpsLab) -> None:
    checkout = ops.current().checkout
    add_migration(checkout, "lossy", LOSSY)
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "a release whose migration deletes failed sync logs")


@when("the production migration procedure runs the new commit's migration")
def production_migration(ops: OpsLab) -> None:
    try:
        ops.facts.migration = migrate(ops.current(), yes=True)
    except OpsError as stopped:
        ops.facts.migration_stopped = str(stopped)


@then(parsers.parse('the procedure stops, reporting that "{table}" lost rows'))
def migration_stopped(ops: OpsLab, table: str) -> None:
    stopped = ops.facts.migration_stopped
    assert stopped is not None, f"the migration completed although it deleted rows: {ops.facts.migration}"
    assert "rows were lost" in stopped, f"expected it to report lost rows: {stopped}"
    assert table in stopped, f"expected it to name {table!r}: {stopped}"


@then("the backup taken before the migration counts every row that was there")
def production_backup(ops: OpsLab) -> None:
    backups = list_backups(ops.current())
    assert backups, f"no backup of production was taken in {ops.current().backups_dir}"
    backup: Backup = backups[-1]
    ops.facts.backup = backup
    counts = backup.manifest["row_counts"]
    assert counts == ops.facts.counts_before, f"the backup counts {counts}, there were {ops.facts.counts_before}"


@when("that backup is restored over the scratch production database")
def restore_backup(ops: OpsLab) -> None:
    restore(ops.current(), str(ops.facts.backup.path), yes=True, drop_extra_tables=True)


@then("every row that was there before the migration is back")
def rows_back(ops: OpsLab) -> None:
    after = table_snapshot(ops.current().database_url)
    before = ops.facts.snapshot
    differing = [table for table in before if after.get(table) != before[table]]
    assert sorted(after) == sorted(before), f"tables: before {sorted(before)}, after {sorted(after)}"
    assert differing == [], f"tables differ from before the migration: {differing}"
