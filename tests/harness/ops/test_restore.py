"""restore: a corrupted or truncated archive is refused before the database is touched; latest is unambiguous."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from harness.core.paths import PROJECT_ROOT
from harness.ops.backup import create_backup, resolve_backup
from harness.ops.common import OpsError
from harness.ops.pgtools import table_snapshot
from harness.ops.restore import restore
from tests.harness.ops.drill import make_target

pytestmark = pytest.mark.db


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else data[:100] + b"\x00garbage\x00" + data[109:])


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
def test_a_damaged_archive_fails_before_touching_the_database(
    empty_database_url: str, tmp_path: Path, how: str
) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE integrations_credentials (id int)")
        connection.execute("INSERT INTO integrations_credentials VALUES (1), (2)")
    target = make_target(empty_database_url, tmp_path, PROJECT_ROOT)
    backup = create_backup(target, verify=True)
    assert backup.manifest["row_counts"] == {"integrations_credentials": 2}
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute("INSERT INTO integrations_credentials VALUES (3)")
    before = table_snapshot(empty_database_url)
    _damage(backup.path, how)
    with pytest.raises(OpsError, match=r"truncated|corrupted"):
        restore(target, str(backup.path))
    assert table_snapshot(empty_database_url) == before
    assert len(list(target.backups_dir.glob("*.dump"))) == 1  # not even the safety backup was taken


def test_restore_latest_brings_back_the_backup_and_refuses_ambiguity(empty_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE integrations_credentials (id int)")
        connection.execute("INSERT INTO integrations_credentials VALUES (1)")
    target = make_target(empty_database_url, tmp_path, PROJECT_ROOT)
    backup = create_backup(target)
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute("DELETE FROM integrations_credentials")
    restore(target, "latest")
    with psycopg.connect(empty_database_url) as connection:
        assert connection.execute("SELECT count(*) FROM integrations_credentials").fetchone() == (1,)
    twin = json.loads(backup.manifest_path.read_text())
    newest = resolve_backup(target, "latest")  # the safety backup taken by restore
    twin["created_at"] = newest.manifest["created_at"]
    copy = target.backups_dir / "copy.dump"
    copy.write_bytes(backup.path.read_bytes())
    (target.backups_dir / "copy.dump.manifest.json").write_text(json.dumps({**twin, "file": "copy.dump"}))
    with pytest.raises(OpsError, match="ambiguous"):
        resolve_backup(target, "latest")
    with pytest.raises(OpsError, match="pattern"):
        resolve_backup(target, str(target.backups_dir / "*.dump"))
