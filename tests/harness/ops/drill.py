"""Helpers for the ops tests: a temporary git checkout of the service and a Target."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from harness.core.paths import PROJECT_ROOT
from harness.ops.common import Target
from integration_service.db import migrations


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


def write_customer_data(database_url: str, user_name: str) -> None:
    """A user with a Xero integration, one sync log and one invoice: rows every table relation touches."""
    with psycopg.connect(database_url) as connection:
        user = connection.execute("INSERT INTO users (name) VALUES (%s) RETURNING id", [user_name]).fetchone()
        assert user is not None
        integration = connection.execute(
            "INSERT INTO integrations_credentials (user_id, integration_type, integration_name) "
            "VALUES (%s, 'XERO', 'books') RETURNING id",
            [user[0]],
        ).fetchone()
        assert integration is not None
        connection.execute(
            "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status) "
            "VALUES (%s, %s, 'XERO', 'invoices', 'success')",
            [integration[0], user[0]],
        )
        connection.execute(
            "INSERT INTO xero_invoices (integration_id, user_id, xero_invoice_id) VALUES (%s, %s, 'INV-1')",
            [integration[0], user[0]],
        )


BROKEN_ROUTER = """def _broken() -> None:
    raise RuntimeError("drill: this release is broken")


router = APIRouter(prefix="/api/integrations", tags=["sync logs"], dependencies=[Depends(_broken)])"""


MIGRATION = '''"""drill: a schema change with a data change"""

import sqlalchemy as sa
from alembic import op

CHANGE_DATA = "UPDATE integrations_credentials SET release_note = 'new', integration_name = integration_name || '!'"
revision = "NEW_REVISION"
down_revision = "OLD_REVISION"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrations_credentials", sa.Column("release_note", sa.Text()))
    op.execute(CHANGE_DATA)
    op.create_table("release_markers", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("release_markers")
    op.drop_column("integrations_credentials", "release_note")
'''


def migration(revision: str, down: str) -> str:
    return MIGRATION.replace("NEW_REVISION", revision).replace("OLD_REVISION", down)


def write_release(checkout: Path, *, broken: bool) -> None:
    """A release on top of the checkout: migration 9999drill (a column, a data change, a table), and when
    `broken`, a sync-logs route that answers 500."""
    package = checkout / "src" / "integration_service"
    head = migrations.head_revision()
    (package / "db" / "migrations" / "versions" / "9999_drill.py").write_text(migration("9999drill", head))
    with (package / "db" / "schema.py").open("a") as schema:
        schema.write(
            '\nintegrations_credentials.append_column(Column("release_note", Text))\n'
            'release_markers = Table("release_markers", metadata, Column("id", Integer, primary_key=True))\n'
        )
    if not broken:
        return
    logs = package / "api" / "logs.py"
    original = 'router = APIRouter(prefix="/api/integrations", tags=["sync logs"])'
    text = logs.read_text()
    assert original in text, "the logs router changed: update the drill's way of breaking it"
    logs.write_text(
        text.replace(original, BROKEN_ROUTER).replace("from fastapi import ", "from fastapi import Depends, ")
    )
