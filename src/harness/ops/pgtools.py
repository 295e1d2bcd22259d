"""pg_dump and pg_restore of the server's major version, and the database facts ops compare.

A custom-format archive is read only by a pg_restore at least as new as the pg_dump that wrote it,
and pg_dump refuses a server newer than itself: the tools are chosen to match the server's major
version (the embedded server's own binaries first), and the choice is stated, never guessed.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from harness.core.embedded_postgres import EmbeddedPostgresError, find_postgres_binaries
from harness.ops.common import OpsError

# The harness's own schema in a stage's database (sign-offs, gate results: harness.ops.gate_store). Not the
# service's: never dumped, restored, counted or compared, so a rollback's restore cannot lose a sign-off.
GATE_SCHEMA = "release_gate"
# The job queue's bookkeeping (procrastinate_jobs, _events, _workers, _periodic_defers) changes by itself every
# scheduler tick: it is no user's data, so row counts, "rows written after the backup" and the migration's
# no-data-loss comparison leave it out (a backup still holds it).


@dataclass(frozen=True)
class PgTools:
    bin_dir: Path
    major: int

    @property
    def pg_dump(self) -> str:
        return str(self.bin_dir / "pg_dump")

    @property
    def pg_restore(self) -> str:
        return str(self.bin_dir / "pg_restore")


def server_major(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        number = connection.execute("SHOW server_version_num").fetchone()
    assert number is not None
    return int(str(number[0])) // 10000


def tools_major(bin_dir: Path) -> int | None:
    if not (bin_dir / "pg_dump").exists() or not (bin_dir / "pg_restore").exists():
        return None
    shown = subprocess.run([str(bin_dir / "pg_dump"), "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"(\d+)(?:\.\d+)?", shown.stdout)
    return int(found.group(1)) if found else None


def candidate_dirs() -> list[Path]:
    """The embedded server's binaries, then those on PATH, then Debian's per-version directories."""
    candidates: list[Path] = []
    with contextlib.suppress(EmbeddedPostgresError):
        candidates.append(find_postgres_binaries())
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return candidates


def find_tools(database_url: str, candidates: list[Path] | None = None) -> PgTools:
    """The first tools of the server's major version; else the oldest newer one; else a clear error."""
    major = server_major(database_url)
    found = [(tools_major(directory), directory) for directory in candidates or candidate_dirs()]
    usable = [(version, directory) for version, directory in found if version is not None and version >= major]
    exact = [directory for version, directory in usable if version == major]
    if exact:
        return PgTools(exact[0], major)
    if usable:
        version, directory = min(usable, key=lambda item: item[0])
        return PgTools(directory, version)
    seen = ", ".join(f"{directory} ({version})" for version, directory in found) or "none"
    raise OpsError(
        f"no pg_dump/pg_restore for PostgreSQL {major} found (looked at: {seen}); install the client "
        f"tools of that version (e.g. `apt-get install postgresql-client-{major}`)"
    )


def libpq_args(database_url: str) -> list[str]:
    """The URL as pg_dump/pg_restore's --dbname, in the libpq form (no SQLAlchemy driver suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return ["--dbname", url.render_as_string(hide_password=False)]


def public_tables(connection: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    rows = connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
        "AND tablename NOT LIKE 'procrastinate\\_%' ORDER BY tablename"
    ).fetchall()
    return [str(row[0]) for row in rows]


def row_counts(database_url: str) -> dict[str, int]:
    """Rows of every table of the service's schema (the integration tables and their owners)."""
    with psycopg.connect(database_url) as connection:
        counts: dict[str, int] = {}
        for table in public_tables(connection):
            row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            assert row is not None
            counts[table] = int(str(row[0]))
        return counts


def rows_written_after(database_url: str, moment: datetime, counted: dict[str, int]) -> list[dict[str, Any]]:
    """Per table, the rows that restoring a backup (taken at `moment` by the server's clock, counting `counted`)
    would drop or undo: inserted since (`created_at` later, or more rows than counted), changed since
    (`updated_at` later), and every row of a table the backup does not have. Tables with none are left out."""
    found: list[dict[str, Any]] = []
    with psycopg.connect(database_url) as connection:
        for table in public_tables(connection):
            entry = _written_after(connection, table, moment, counted.get(table))
            if entry["rows"]:
                found.append(entry)
    return found


def _written_after(
    connection: psycopg.Connection[tuple[Any, ...]], table: str, moment: datetime, counted: int | None
) -> dict[str, Any]:
    columns = {str(row[0]) for row in connection.execute(_COLUMNS, [table]).fetchall()}
    name = sql.Identifier(table)
    live = _count(connection, sql.SQL("SELECT count(*) FROM {}").format(name))
    if counted is None:
        return {"table": table, "rows": live, "inserted": live, "updated": 0, "new_table": True}
    inserted = max(live - counted, 0)
    if "created_at" in columns:
        newer = sql.SQL("SELECT count(*) FROM {} WHERE created_at > %s").format(name)
        inserted = max(inserted, _count(connection, newer, moment))
    updated = 0
    if "updated_at" in columns and "created_at" in columns:  # changed since, but older than the backup
        changed = sql.SQL("SELECT count(*) FROM {} WHERE updated_at > %s AND created_at <= %s").format(name)
        updated = _count(connection, changed, moment, moment)
    elif "updated_at" in columns:
        updated = _count(connection, sql.SQL("SELECT count(*) FROM {} WHERE updated_at > %s").format(name), moment)
    return {"table": table, "rows": inserted + updated, "inserted": inserted, "updated": updated, "new_table": False}


def _count(connection: psycopg.Connection[tuple[Any, ...]], query: sql.Composed, *values: object) -> int:
    row = connection.execute(query, list(values)).fetchone()
    assert row is not None
    return int(str(row[0]))


def database_now(database_url: str) -> datetime:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT now()").fetchone()
    assert row is not None
    moment: datetime = row[0]
    return moment


def alembic_revision(database_url: str) -> str | None:
    with psycopg.connect(database_url) as connection:
        exists = connection.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])


def table_snapshot(database_url: str) -> dict[str, Any]:
    """Every table of the public schema (alembic_version included) with its columns and all its rows, in
    a stable order: what "the database content equals the pre-release content" compares."""
    with psycopg.connect(database_url) as connection:
        tables = [str(row[0]) for row in connection.execute(_TABLES).fetchall()]
        content: dict[str, Any] = {}
        for table in tables:
            columns = connection.execute(_COLUMNS, [table]).fetchall()
            rows = connection.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table))).fetchall()
            content[table] = {"columns": [str(column[0]) for column in columns], "rows": [repr(row) for row in rows]}
        return content


_TABLES = (
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'procrastinate\\_%' "
    "ORDER BY tablename"
)
_COLUMNS = (
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s"
    " ORDER BY ordinal_position"
)
