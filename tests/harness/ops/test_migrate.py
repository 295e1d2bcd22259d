"""migrate --down REV: a tested downgrade keeps the data, moves the revision, and refuses what it cannot do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.core.database import create_database, drop_database
from harness.ops.common import OpsError
from harness.ops.migrate import migrate, refuse_downgrade
from harness.ops.pgtools import alembic_revision, table_snapshot
from integration_service.db import migrations
from tests.harness.ops.drill import make_checkout, make_target, write_customer_data

MIGRATION = '''"""test: a new table and a new column"""

import sqlalchemy as sa
from alembic import op

revision = "9999notes"
down_revision = "OLD_REVISION"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrations_credentials", sa.Column("release_note", sa.Text()))
    op.create_table("release_notes", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("note", sa.Text()))


def downgrade() -> None:
    op.drop_table("release_notes")
    op.drop_column("integrations_credentials", "release_note")
'''


@pytest.fixture
def migrated_database(database_server_url: str) -> Iterator[str]:
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    url = create_database(database_server_url, name)
    migrations.upgrade(url)
    yield url
    drop_database(database_server_url, name)


def write_release(checkout: Path, down_revision: str) -> None:
    package = checkout / "src" / "integration_service" / "db"
    (package / "migrations" / "versions" / "9999_notes.py").write_text(MIGRATION.replace("OLD_REVISION", down_revision))
    with (package / "schema.py").open("a") as schema:
        schema.write(
            '\nintegrations_credentials.append_column(Column("release_note", Text))\n'
            'release_notes = Table("release_notes", metadata, Column("id", Integer, primary_key=True), '
            'Column("note", Text))\n'
        )


@pytest.mark.e2e  # alembic subprocesses and pg_dump backups, up and down, in a scratch git checkout
@pytest.mark.db
def test_a_downgrade_keeps_the_data_and_moves_the_revision(migrated_database: str, tmp_path: Path) -> None:
    checkout, _ = make_checkout(tmp_path)
    old_head = migrations.head_revision()
    write_release(checkout, old_head)
    target = make_target(migrated_database, tmp_path, checkout)
    write_customer_data(migrated_database, "migrate-user")
    before = table_snapshot(migrated_database)

    upgraded = migrate(target)
    assert (upgraded.before, upgraded.after, upgraded.head) == (old_head, "9999notes", "9999notes")
    with psycopg.connect(migrated_database) as connection:
        connection.execute("INSERT INTO release_notes (note) VALUES ('made by the release')")
        connection.execute("UPDATE integrations_credentials SET release_note = 'new'")

    with pytest.raises(OpsError, match=r"unknown revision 'nonsense'.*nothing was changed"):
        migrate(target, down="nonsense")
    with pytest.raises(OpsError, match="not older than the database's revision 9999notes"):
        migrate(target, down="9999notes")
    assert alembic_revision(migrated_database) == "9999notes"
    backups_before_downgrade = sorted(target.backups_dir.glob("*.dump"))
    assert len(backups_before_downgrade) == 1  # the upgrade's; the refused downgrades took none

    downgraded = migrate(target, down=old_head)
    assert (downgraded.before, downgraded.after) == ("9999notes", old_head)
    assert alembic_revision(migrated_database) == old_head
    # Every table and row from before the release is there, unchanged; what the release added is gone.
    assert table_snapshot(migrated_database) == before
    # ... and kept in the backup the downgrade took first.
    assert downgraded.backup is not None
    assert downgraded.backup.manifest["row_counts"]["release_notes"] == 1
    assert downgraded.backup.manifest["alembic_revision"] == "9999notes"


@pytest.mark.parametrize(
    ("down", "current", "message"),
    [
        ("zzz", "0003", "unknown revision 'zzz'"),
        ("0002", None, "the database is at revision None"),
        ("0002", "0001", "0002 is not older than the database's revision 0001"),
        ("0003", "0003", "0003 is not older"),
    ],
)
def test_a_downgrade_must_name_an_older_revision_of_the_checkout(down: str, current: str | None, message: str) -> None:
    with pytest.raises(OpsError, match=message):
        refuse_downgrade(down, current, ["0003", "0002", "0001"])
    refuse_downgrade("0001", "0003", ["0003", "0002", "0001"])  # older, known: allowed
