"""paypal webhook transmissions: each PAYPAL-TRANSMISSION-ID accepted once

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paypal_webhook_transmissions",
        sa.Column("transmission_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("transmission_id", name=op.f("pk_paypal_webhook_transmissions")),
    )
    op.create_index(
        op.f("ix_paypal_webhook_transmissions_received_at"),
        "paypal_webhook_transmissions",
        ["received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_paypal_webhook_transmissions_received_at"), table_name="paypal_webhook_transmissions")
    op.drop_table("paypal_webhook_transmissions")
