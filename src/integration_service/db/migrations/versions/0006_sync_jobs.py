"""sync jobs: procrastinate's queue schema, queued sync logs, scheduled-sync state

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:00:00.000000

The queue's tables, types and functions (all named `procrastinate_*`) are procrastinate's own schema, read
from the installed package: pyproject pins procrastinate to one minor version, and moving to another
takes a new revision applying procrastinate's migration files (its `sql/migrations/`) in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOGS = "integrations_sync_logs"
CREDENTIALS = "integrations_credentials"
OLD_STATUSES = "status IN ('running', 'success', 'partial', 'failed')"
NEW_STATUSES = "status IN ('queued', 'running', 'success', 'partial', 'failed')"


def upgrade() -> None:
    op.execute(SchemaManager.get_schema())
    op.add_column(LOGS, sa.Column("job_id", sa.BigInteger(), nullable=True))
    op.add_column(LOGS, sa.Column("trigger", sa.Text(), server_default="request", nullable=False))
    op.add_column(LOGS, sa.Column("outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.drop_constraint(op.f("ck_integrations_sync_logs_status"), LOGS, type_="check")
    op.create_check_constraint(op.f("ck_integrations_sync_logs_status"), LOGS, NEW_STATUSES)
    op.create_check_constraint(op.f("ck_integrations_sync_logs_trigger"), LOGS, "trigger IN ('request', 'schedule')")
    # Only the newest `running` row of an integration can be a live run (one sync per integration at a time).
    op.execute(
        "UPDATE integrations_sync_logs AS old SET status = 'failed', completed_at = now(), "
        "error_message = 'interrupted: the service stopped while this sync ran (crash or restart); run it again' "
        "WHERE old.status = 'running' AND EXISTS (SELECT 1 FROM integrations_sync_logs AS newer "
        "WHERE newer.status = 'running' AND newer.integration_id = old.integration_id "
        "AND (newer.created_at, newer.id) > (old.created_at, old.id))"
    )
    op.create_index(
        "uq_integrations_sync_logs_one_open_per_integration",
        LOGS,
        ["integration_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.add_column(CREDENTIALS, sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(CREDENTIALS, sa.Column("sync_failures", sa.Integer(), server_default="0", nullable=False))
    op.add_column(CREDENTIALS, sa.Column("sync_paused_at", sa.DateTime(timezone=True), nullable=True))
    # Token refreshes happen in workers too: counted in the database, read by the service's /metrics.
    op.create_table(
        "token_refresh_counts",
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("result", name=op.f("pk_token_refresh_counts")),
    )


def downgrade() -> None:
    op.drop_table("token_refresh_counts")
    op.drop_column(CREDENTIALS, "sync_paused_at")
    op.drop_column(CREDENTIALS, "sync_failures")
    op.drop_column(CREDENTIALS, "next_sync_at")
    op.drop_index("uq_integrations_sync_logs_one_open_per_integration", table_name=LOGS)
    # The older schema knows no `queued` run: one that never started ends failed, saying so.
    op.execute(
        "UPDATE integrations_sync_logs SET status = 'failed', completed_at = now(), "
        "error_message = 'not run: the sync queue was removed by a downgrade' WHERE status = 'queued'"
    )
    op.drop_constraint(op.f("ck_integrations_sync_logs_trigger"), LOGS, type_="check")
    op.drop_constraint(op.f("ck_integrations_sync_logs_status"), LOGS, type_="check")
    op.create_check_constraint(op.f("ck_integrations_sync_logs_status"), LOGS, OLD_STATUSES)
    op.drop_column(LOGS, "outcome")
    op.drop_column(LOGS, "trigger")
    op.drop_column(LOGS, "job_id")
    _drop_queue_schema()


def _drop_queue_schema() -> None:
    """procrastinate ships no uninstall: drop every object named procrastinate_* (tables take their triggers)."""
    op.execute(
        """
        DO $$
        DECLARE item record;
        BEGIN
            FOR item IN SELECT tablename FROM pg_tables
                        WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
                EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
            END LOOP;
            FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                        JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
                EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
            END LOOP;
            FOR item IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                        WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
                          AND t.typtype IN ('e', 'c') LOOP
                EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
            END LOOP;
        END $$;
        """
    )
