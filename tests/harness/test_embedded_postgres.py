"""The embedded PostgreSQL server: where its binaries come from, and its start/reuse/stop cycle."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path

import psycopg
import pytest

from harness.core.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError, find_postgres_binaries

_real_find_spec = importlib.util.find_spec
_real_glob = Path.glob


def without_pgserver_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a Python for which the pgserver wheel does not exist."""

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "pgserver" else _real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def without_system_postgres(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Nothing on PATH but `path`, and no Debian /usr/lib/postgresql tree."""
    monkeypatch.setenv("PATH", str(path))

    def glob(self: Path, pattern: str) -> Iterator[Path]:
        return iter(()) if str(self) == "/usr/lib/postgresql" else _real_glob(self, pattern)

    monkeypatch.setattr(Path, "glob", glob)


def fake_installation(root: Path) -> Path:
    """A `pg_config` on PATH whose --bindir holds initdb and pg_ctl, as a distribution package has."""
    bin_dir = root / "pg" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("initdb", "pg_ctl"):
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    path_dir = root / "path"
    path_dir.mkdir()
    (path_dir / "pg_config").write_text(f"#!/bin/sh\necho {bin_dir}\n")
    (path_dir / "pg_config").chmod(0o755)
    return path_dir


def test_the_wheel_binaries_come_first_when_the_wheel_exists() -> None:
    spec = _real_find_spec("pgserver")
    if spec is None or spec.origin is None:
        pytest.skip("the pgserver wheel is not installed for this Python")
    assert find_postgres_binaries() == Path(spec.origin).parent / "pginstall" / "bin"


def test_without_the_wheel_local_binaries_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_pgserver_wheel(monkeypatch)
    path_dir = fake_installation(tmp_path)
    without_system_postgres(monkeypatch, path_dir)
    assert find_postgres_binaries() == tmp_path / "pg" / "bin"


def test_without_wheel_or_local_binaries_the_error_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_pgserver_wheel(monkeypatch)
    without_system_postgres(monkeypatch, tmp_path)
    with pytest.raises(EmbeddedPostgresError) as raised:
        find_postgres_binaries()
    message = str(raised.value)
    assert "no PostgreSQL binaries found" in message
    assert "apt-get install postgresql" in message
    assert "DATABASE_URL" in message


def query_one(url: str) -> object:
    with psycopg.connect(url, connect_timeout=10) as connection:
        row = connection.execute("SELECT current_setting('server_version_num')").fetchone()
    assert row is not None
    return row[0]


@pytest.mark.e2e  # initdb and a PostgreSQL server of its own
@pytest.mark.db
def test_start_reuse_and_stop(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", durable=False)
    url = server.start()
    try:
        assert server.is_running()
        assert query_one(url)
        pid_file = (tmp_path / "pgdata" / "postmaster.pid").read_text()

        second = EmbeddedPostgres(tmp_path / "pgdata", durable=False)
        assert second.is_running()
        assert second.start() == url
        assert (tmp_path / "pgdata" / "postmaster.pid").read_text() == pid_file  # the same server, reused
    finally:
        server.stop()
    assert not server.is_running()
    with pytest.raises(psycopg.OperationalError):
        query_one(url)


@pytest.mark.e2e  # initdb and a PostgreSQL server of its own
@pytest.mark.db
def test_the_local_binaries_fallback_really_starts_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_pgserver_wheel(monkeypatch)
    try:
        bin_dir = find_postgres_binaries()
    except EmbeddedPostgresError:
        pytest.skip("no local PostgreSQL installation on this machine")
    wheel = _real_find_spec("pgserver")
    assert wheel is None or wheel.origin is None or Path(wheel.origin).parent not in bin_dir.parents
    assert shutil.which("initdb", path=str(bin_dir))
    server = EmbeddedPostgres(tmp_path / "pgdata", durable=False)
    try:
        assert query_one(server.start())
    finally:
        server.stop()
