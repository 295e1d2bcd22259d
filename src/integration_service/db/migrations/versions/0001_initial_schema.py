"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:28:40.288777
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Over 60 lines: a migration's DDL runs in one function, in order (Alembic's convention).
def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Text(), server_default=sa.text("gen_random_uuid()::text"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "integrations_credentials",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("integration_type", sa.Text(), nullable=False),
        sa.Column("integration_name", sa.Text(), nullable=False),
        sa.Column("access_token_encrypted", sa.Text(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("api_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "custom_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("sync_status", sa.Text(), server_default="IDLE", nullable=False),
        sa.Column("sync_error", sa.Text(), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "integration_type IN ('XERO', 'MYOB', 'QUICKBOOKS', 'STRIPE', 'PAYPAL', 'BILLIONMAIL', 'MAUTIC')",
            name=op.f("ck_integrations_credentials_integration_type"),
        ),
        sa.CheckConstraint(
            "sync_status IN ('IDLE', 'SYNCING', 'SUCCESS', 'ERROR')",
            name=op.f("ck_integrations_credentials_sync_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_integrations_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations_credentials")),
        sa.UniqueConstraint(
            "user_id",
            "integration_type",
            "integration_name",
            name=op.f("uq_integrations_credentials_user_id_integration_type_integration_name"),
        ),
    )
    op.create_index(
        op.f("ix_integrations_credentials_integration_type_sync_status"),
        "integrations_credentials",
        ["integration_type", "sync_status"],
        unique=False,
    )
    op.create_index(op.f("ix_integrations_credentials_user_id"), "integrations_credentials", ["user_id"], unique=False)
    op.create_table(
        "integrations_sync_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("integration_type", sa.Text(), nullable=False),
        sa.Column("sync_type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("total_records", sa.Integer(), server_default="0", nullable=False),
        sa.Column("synced_records", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed_records", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'partial', 'failed')",
            name=op.f("ck_integrations_sync_logs_status"),
        ),
        sa.CheckConstraint(
            "total_records >= 0 AND synced_records >= 0 AND failed_records >= 0",
            name=op.f("ck_integrations_sync_logs_counts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_integrations_sync_logs_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_integrations_sync_logs_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations_sync_logs")),
    )
    op.create_index(
        op.f("ix_integrations_sync_logs_created_at"), "integrations_sync_logs", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_integrations_sync_logs_integration_id_created_at"),
        "integrations_sync_logs",
        ["integration_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_integrations_sync_logs_status_created_at"),
        "integrations_sync_logs",
        ["status", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_integrations_sync_logs_sync_type_created_at"),
        "integrations_sync_logs",
        ["sync_type", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_integrations_sync_logs_user_id"), "integrations_sync_logs", ["user_id"], unique=False)
    op.create_table(
        "xero_invoices",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("xero_invoice_id", sa.Text(), nullable=False),
        sa.Column("invoice_number", sa.Text(), nullable=True),
        sa.Column("invoice_type", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.Text(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("currency_code", sa.Text(), nullable=True),
        sa.Column("sub_total", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("total_tax", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("total", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("amount_due", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("amount_paid", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("invoice_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_xero_invoices_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_xero_invoices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xero_invoices")),
        sa.UniqueConstraint(
            "integration_id", "xero_invoice_id", name=op.f("uq_xero_invoices_integration_id_xero_invoice_id")
        ),
    )
    op.create_index(op.f("ix_xero_invoices_status"), "xero_invoices", ["status"], unique=False)
    op.create_index(op.f("ix_xero_invoices_user_id"), "xero_invoices", ["user_id"], unique=False)
    op.create_index(op.f("ix_xero_invoices_xero_invoice_id"), "xero_invoices", ["xero_invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_xero_invoices_xero_invoice_id"), table_name="xero_invoices")
    op.drop_index(op.f("ix_xero_invoices_user_id"), table_name="xero_invoices")
    op.drop_index(op.f("ix_xero_invoices_status"), table_name="xero_invoices")
    op.drop_table("xero_invoices")
    op.drop_index(op.f("ix_integrations_sync_logs_user_id"), table_name="integrations_sync_logs")
    op.drop_index(op.f("ix_integrations_sync_logs_sync_type_created_at"), table_name="integrations_sync_logs")
    op.drop_index(op.f("ix_integrations_sync_logs_status_created_at"), table_name="integrations_sync_logs")
    op.drop_index(op.f("ix_integrations_sync_logs_integration_id_created_at"), table_name="integrations_sync_logs")
    op.drop_index(op.f("ix_integrations_sync_logs_created_at"), table_name="integrations_sync_logs")
    op.drop_table("integrations_sync_logs")
    op.drop_index(op.f("ix_integrations_credentials_user_id"), table_name="integrations_credentials")
    op.drop_index(
        op.f("ix_integrations_credentials_integration_type_sync_status"),
        table_name="integrations_credentials",
    )
    op.drop_table("integrations_credentials")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
