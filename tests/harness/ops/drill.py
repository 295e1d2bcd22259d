"""Helpers for the ops tests: a temporary git checkout of the service, table snapshots, a Target."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console

from harness.ops.common import Target
from harness.paths import PROJECT_ROOT


def git(checkout: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True, check=True).stdout.strip()


def make_checkout(root: Path) -> tuple[Path, str]:
    """A new git repository holding a copy of the service's code; its first commit's sha."""
    checkout = root / "checkout"
    shutil.copytree(
        PROJECT_ROOT / "src" / "integration_service",
        checkout / "src" / "integration_service",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    git(checkout.parent / "checkout", "init", "--quiet", "--initial-branch", "main")
    git(checkout, "config", "user.email", "drill@example.test")
    git(checkout, "config", "user.name", "Drill")
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "the running version")
    return checkout, git(checkout, "rev-parse", "HEAD")


def snapshot(database_url: str) -> dict[str, Any]:
    """Every table of the schema (alembic_version included) with all its rows, in a stable order."""
    with psycopg.connect(database_url) as connection:
        tables = [
            str(row[0])
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        content: dict[str, Any] = {}
        for table in tables:
            columns = connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                [table],
            ).fetchall()
            rows = connection.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table))).fetchall()
            content[table] = {"columns": [str(column[0]) for column in columns], "rows": [repr(row) for row in rows]}
        return content


def make_target(database_url: str, root: Path, checkout: Path, **overrides: Any) -> Target:
    values: dict[str, Any] = {
        "stage": "local",
        "database_url": database_url,
        "checkout": checkout,
        "state_dir": root / "ops",
        "backups_dir": root / "backups",
        "console": Console(stderr=True, width=160),
        **overrides,
    }
    return Target(**values)
