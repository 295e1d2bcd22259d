"""paypal orders: checkout orders (Orders v2) created and captured through an integration

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "paypal_orders"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("paypal_order_id", sa.Text(), nullable=False),
        sa.Column("intent", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("payer_id", sa.Text(), nullable=True),
        sa.Column("capture_id", sa.Text(), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_paypal_orders_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_paypal_orders_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paypal_orders")),
        sa.UniqueConstraint(
            "integration_id", "paypal_order_id", name=op.f("uq_paypal_orders_integration_id_paypal_order_id")
        ),
    )
    op.create_index(op.f("ix_paypal_orders_paypal_order_id"), TABLE, ["paypal_order_id"], unique=False)
    op.create_index(op.f("ix_paypal_orders_capture_id"), TABLE, ["capture_id"], unique=False)
    op.create_index(op.f("ix_paypal_orders_status"), TABLE, ["status"], unique=False)
    op.create_index(op.f("ix_paypal_orders_user_id"), TABLE, ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table(TABLE)
