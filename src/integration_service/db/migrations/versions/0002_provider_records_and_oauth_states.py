"""provider records and oauth states

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:36:46.645148
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Over 60 lines: a migration's DDL runs in one function, in order (Alembic's convention).
def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("integration_type", sa.Text(), nullable=False),
        sa.Column("integration_name", sa.Text(), nullable=False),
        sa.Column(
            "custom_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_states_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )
    op.create_index(op.f("ix_oauth_states_user_id"), "oauth_states", ["user_id"], unique=False)
    op.create_table(
        "myob_invoices",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("myob_invoice_uid", sa.Text(), nullable=False),
        sa.Column("company_file_id", sa.Text(), nullable=False),
        sa.Column("invoice_number", sa.Text(), nullable=True),
        sa.Column("invoice_type", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("customer_uid", sa.Text(), nullable=True),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("subtotal", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("total_tax", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("total_amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("balance_due_amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("invoice_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_myob_invoices_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_myob_invoices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_myob_invoices")),
        sa.UniqueConstraint(
            "integration_id",
            "myob_invoice_uid",
            name=op.f("uq_myob_invoices_integration_id_myob_invoice_uid"),
        ),
    )
    op.create_index(op.f("ix_myob_invoices_myob_invoice_uid"), "myob_invoices", ["myob_invoice_uid"], unique=False)
    op.create_index(op.f("ix_myob_invoices_user_id"), "myob_invoices", ["user_id"], unique=False)
    op.create_table(
        "quickbooks_invoices",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("quickbooks_invoice_id", sa.Text(), nullable=False),
        sa.Column("realm_id", sa.Text(), nullable=False),
        sa.Column("doc_number", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("currency_code", sa.Text(), nullable=True),
        sa.Column("total_amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("balance", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("txn_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_quickbooks_invoices_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_quickbooks_invoices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quickbooks_invoices")),
        sa.UniqueConstraint(
            "integration_id",
            "quickbooks_invoice_id",
            name=op.f("uq_quickbooks_invoices_integration_id_quickbooks_invoice_id"),
        ),
    )
    op.create_index(
        op.f("ix_quickbooks_invoices_quickbooks_invoice_id"),
        "quickbooks_invoices",
        ["quickbooks_invoice_id"],
        unique=False,
    )
    op.create_index(op.f("ix_quickbooks_invoices_user_id"), "quickbooks_invoices", ["user_id"], unique=False)
    op.create_table(
        "xero_contacts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("xero_contact_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email_address", sa.Text(), nullable=True),
        sa.Column("contact_status", sa.Text(), nullable=True),
        sa.Column("is_customer", sa.Boolean(), nullable=True),
        sa.Column("is_supplier", sa.Boolean(), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_xero_contacts_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_xero_contacts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xero_contacts")),
        sa.UniqueConstraint(
            "integration_id", "xero_contact_id", name=op.f("uq_xero_contacts_integration_id_xero_contact_id")
        ),
    )
    op.create_index(op.f("ix_xero_contacts_user_id"), "xero_contacts", ["user_id"], unique=False)
    op.create_index(op.f("ix_xero_contacts_xero_contact_id"), "xero_contacts", ["xero_contact_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_xero_contacts_xero_contact_id"), table_name="xero_contacts")
    op.drop_index(op.f("ix_xero_contacts_user_id"), table_name="xero_contacts")
    op.drop_table("xero_contacts")
    op.drop_index(op.f("ix_quickbooks_invoices_user_id"), table_name="quickbooks_invoices")
    op.drop_index(op.f("ix_quickbooks_invoices_quickbooks_invoice_id"), table_name="quickbooks_invoices")
    op.drop_table("quickbooks_invoices")
    op.drop_index(op.f("ix_myob_invoices_user_id"), table_name="myob_invoices")
    op.drop_index(op.f("ix_myob_invoices_myob_invoice_uid"), table_name="myob_invoices")
    op.drop_table("myob_invoices")
    op.drop_index(op.f("ix_oauth_states_user_id"), table_name="oauth_states")
    op.drop_table("oauth_states")
