"""Scratch git checkouts of the service for the release, migration and rollback scenarios: a committed copy of
the service's code (the 'running version') and the new commits a scenario adds to it (their migrations).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.core.paths import PROJECT_ROOT
from steps.support.lab import head_revision

# --- scratch git checkouts: releases, migrations, rollbacks ---------------------------------------------


def git(checkout: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed git subcommands on a scratch checkout
        ["git", *args],  # noqa: S607 - git from PATH, as harness.ops runs it
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr[-500:]}"
    return done.stdout.strip()


def make_checkout(root: Path) -> Path:
    """A git repository holding a copy of the service's code, committed: the 'running version'."""
    checkout = root / "checkout"
    shutil.copytree(
        PROJECT_ROOT / "src" / "integration_service",
        checkout / "src" / "integration_service",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    git(checkout, "init", "--quiet", "--initial-branch", "main")
    git(checkout, "config", "user.email", "ops-scenario@example.test")
    git(checkout, "config", "user.name", "Ops scenario")
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "the running version")
    return checkout


def add_migration(checkout: Path, name: str, body: str) -> str:
    revision = f"9999{name}"
    path = checkout / "src" / "integration_service" / "db" / "migrations" / "versions" / f"9999_{name}.py"
    path.write_text(
        f'"""ops scenario: {name}"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "{revision}"\ndown_revision = "{head_revision()}"\nbranch_labels = None\ndepends_on = None\n\n'
        f"{body}"
    )
    return revision


SCHEMA_CHANGE = """
def upgrade() -> None:
    op.add_column("integrations_credentials", sa.Column("release_note", sa.Text()))
    op.execute("UPDATE integrations_credentials SET release_note = 'new', integration_name = integration_name || '!'")
    op.create_table("release_markers", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("release_markers")
    op.drop_column("integrations_credentials", "release_note")
"""


LOSSY = """
def upgrade() -> None:
    op.execute("DELETE FROM integrations_sync_logs WHERE status = 'failed'")


def downgrade() -> None:
    pass
"""


def write_schema_release(checkout: Path, broken_logs_route: bool) -> None:
    package = checkout / "src" / "integration_service"
    add_migration(checkout, "release", SCHEMA_CHANGE)
    with (package / "db" / "schema.py").open("a") as schema:
        schema.write(
            '\nintegrations_credentials.append_column(Column("release_note", Text))\n'
            'release_markers = Table("release_markers", metadata, Column("id", Integer, primary_key=True))\n'
        )
    if broken_logs_route:
        logs = package / "api" / "logs.py"
        original = 'router = APIRouter(prefix="/api/integrations", tags=["sync logs"])'
        text = logs.read_text()
        assert original in text, "the logs router changed: update the scenario's way of breaking it"
        broken = (
            "def _broken() -> None:\n    raise RuntimeError('this release is broken')\n\n\n"
            'router = APIRouter(prefix="/api/integrations", tags=["sync logs"], dependencies=[Depends(_broken)])'
        )
        logs.write_text(text.replace(original, broken).replace("from fastapi import ", "from fastapi import Depends, "))
