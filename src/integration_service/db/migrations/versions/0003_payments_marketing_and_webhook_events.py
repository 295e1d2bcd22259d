"""payments, marketing and webhook events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:03:54.383558
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Over 60 lines: a migration's DDL runs in one function, in order (Alembic's convention).
def upgrade() -> None:
    op.create_table(
        "billionmail_campaigns",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("billionmail_task_id", sa.Text(), nullable=False),
        sa.Column("task_name", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("addresser", sa.Text(), nullable=True),
        sa.Column("template_id", sa.Text(), nullable=True),
        sa.Column(
            "group_ids", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("recipient_count", sa.Integer(), nullable=True),
        sa.Column("sent_count", sa.Integer(), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_billionmail_campaigns_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_billionmail_campaigns_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billionmail_campaigns")),
        sa.UniqueConstraint(
            "integration_id",
            "billionmail_task_id",
            name=op.f("uq_billionmail_campaigns_integration_id_billionmail_task_id"),
        ),
    )
    op.create_index(
        op.f("ix_billionmail_campaigns_billionmail_task_id"),
        "billionmail_campaigns",
        ["billionmail_task_id"],
        unique=False,
    )
    op.create_index(op.f("ix_billionmail_campaigns_status"), "billionmail_campaigns", ["status"], unique=False)
    op.create_index(op.f("ix_billionmail_campaigns_user_id"), "billionmail_campaigns", ["user_id"], unique=False)
    op.create_table(
        "mautic_campaigns",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("mautic_campaign_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_published", sa.Boolean(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("publish_up", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_down", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_mautic_campaigns_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mautic_campaigns_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mautic_campaigns")),
        sa.UniqueConstraint(
            "integration_id", "mautic_campaign_id", name=op.f("uq_mautic_campaigns_integration_id_mautic_campaign_id")
        ),
    )
    op.create_index(
        op.f("ix_mautic_campaigns_mautic_campaign_id"), "mautic_campaigns", ["mautic_campaign_id"], unique=False
    )
    op.create_index(op.f("ix_mautic_campaigns_user_id"), "mautic_campaigns", ["user_id"], unique=False)
    op.create_table(
        "paypal_payments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("paypal_payment_id", sa.Text(), nullable=False),
        sa.Column("sale_id", sa.Text(), nullable=True),
        sa.Column("intent", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("payer_id", sa.Text(), nullable=True),
        sa.Column("refunded_amount", sa.Numeric(precision=18, scale=4), server_default="0", nullable=False),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_paypal_payments_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_paypal_payments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paypal_payments")),
        sa.UniqueConstraint(
            "integration_id", "paypal_payment_id", name=op.f("uq_paypal_payments_integration_id_paypal_payment_id")
        ),
    )
    op.create_index(
        op.f("ix_paypal_payments_paypal_payment_id"), "paypal_payments", ["paypal_payment_id"], unique=False
    )
    op.create_index(op.f("ix_paypal_payments_sale_id"), "paypal_payments", ["sale_id"], unique=False)
    op.create_index(op.f("ix_paypal_payments_state"), "paypal_payments", ["state"], unique=False)
    op.create_index(op.f("ix_paypal_payments_user_id"), "paypal_payments", ["user_id"], unique=False)
    op.create_table(
        "paypal_subscriptions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("paypal_subscription_id", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("subscriber_email", sa.Text(), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_paypal_subscriptions_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_paypal_subscriptions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paypal_subscriptions")),
        sa.UniqueConstraint(
            "integration_id",
            "paypal_subscription_id",
            name=op.f("uq_paypal_subscriptions_integration_id_paypal_subscription_id"),
        ),
    )
    op.create_index(
        op.f("ix_paypal_subscriptions_paypal_subscription_id"),
        "paypal_subscriptions",
        ["paypal_subscription_id"],
        unique=False,
    )
    op.create_index(op.f("ix_paypal_subscriptions_status"), "paypal_subscriptions", ["status"], unique=False)
    op.create_index(op.f("ix_paypal_subscriptions_user_id"), "paypal_subscriptions", ["user_id"], unique=False)
    op.create_table(
        "stripe_payments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("stripe_charge_id", sa.Text(), nullable=False),
        sa.Column("payment_intent_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=0), nullable=True),
        sa.Column("amount_refunded", sa.Numeric(precision=18, scale=0), server_default="0", nullable=False),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("refunded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("failure_code", sa.Text(), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_stripe_payments_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_stripe_payments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_payments")),
        sa.UniqueConstraint(
            "integration_id", "stripe_charge_id", name=op.f("uq_stripe_payments_integration_id_stripe_charge_id")
        ),
    )
    op.create_index(
        op.f("ix_stripe_payments_payment_intent_id"), "stripe_payments", ["payment_intent_id"], unique=False
    )
    op.create_index(op.f("ix_stripe_payments_status"), "stripe_payments", ["status"], unique=False)
    op.create_index(op.f("ix_stripe_payments_stripe_charge_id"), "stripe_payments", ["stripe_charge_id"], unique=False)
    op.create_index(op.f("ix_stripe_payments_user_id"), "stripe_payments", ["user_id"], unique=False)
    op.create_table(
        "stripe_subscriptions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("stripe_subscription_id", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("price_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_stripe_subscriptions_integration_id_integrations_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_stripe_subscriptions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_subscriptions")),
        sa.UniqueConstraint(
            "integration_id",
            "stripe_subscription_id",
            name=op.f("uq_stripe_subscriptions_integration_id_stripe_subscription_id"),
        ),
    )
    op.create_index(op.f("ix_stripe_subscriptions_status"), "stripe_subscriptions", ["status"], unique=False)
    op.create_index(
        op.f("ix_stripe_subscriptions_stripe_subscription_id"),
        "stripe_subscriptions",
        ["stripe_subscription_id"],
        unique=False,
    )
    op.create_index(op.f("ix_stripe_subscriptions_user_id"), "stripe_subscriptions", ["user_id"], unique=False)
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("integration_id", sa.UUID(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('applied', 'duplicate', 'ignored', 'unmatched', 'rejected')",
            name=op.f("ck_webhook_events_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations_credentials.id"],
            name=op.f("fk_webhook_events_integration_id_integrations_credentials"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_webhook_events_provider_event_id")),
    )
    op.create_index(op.f("ix_webhook_events_event_type"), "webhook_events", ["event_type"], unique=False)
    op.create_index(op.f("ix_webhook_events_integration_id"), "webhook_events", ["integration_id"], unique=False)
    op.create_index(op.f("ix_webhook_events_received_at"), "webhook_events", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_events_received_at"), table_name="webhook_events")
    op.drop_index(op.f("ix_webhook_events_integration_id"), table_name="webhook_events")
    op.drop_index(op.f("ix_webhook_events_event_type"), table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index(op.f("ix_stripe_subscriptions_user_id"), table_name="stripe_subscriptions")
    op.drop_index(op.f("ix_stripe_subscriptions_stripe_subscription_id"), table_name="stripe_subscriptions")
    op.drop_index(op.f("ix_stripe_subscriptions_status"), table_name="stripe_subscriptions")
    op.drop_table("stripe_subscriptions")
    op.drop_index(op.f("ix_stripe_payments_user_id"), table_name="stripe_payments")
    op.drop_index(op.f("ix_stripe_payments_stripe_charge_id"), table_name="stripe_payments")
    op.drop_index(op.f("ix_stripe_payments_status"), table_name="stripe_payments")
    op.drop_index(op.f("ix_stripe_payments_payment_intent_id"), table_name="stripe_payments")
    op.drop_table("stripe_payments")
    op.drop_index(op.f("ix_paypal_subscriptions_user_id"), table_name="paypal_subscriptions")
    op.drop_index(op.f("ix_paypal_subscriptions_status"), table_name="paypal_subscriptions")
    op.drop_index(op.f("ix_paypal_subscriptions_paypal_subscription_id"), table_name="paypal_subscriptions")
    op.drop_table("paypal_subscriptions")
    op.drop_index(op.f("ix_paypal_payments_user_id"), table_name="paypal_payments")
    op.drop_index(op.f("ix_paypal_payments_state"), table_name="paypal_payments")
    op.drop_index(op.f("ix_paypal_payments_sale_id"), table_name="paypal_payments")
    op.drop_index(op.f("ix_paypal_payments_paypal_payment_id"), table_name="paypal_payments")
    op.drop_table("paypal_payments")
    op.drop_index(op.f("ix_mautic_campaigns_user_id"), table_name="mautic_campaigns")
    op.drop_index(op.f("ix_mautic_campaigns_mautic_campaign_id"), table_name="mautic_campaigns")
    op.drop_table("mautic_campaigns")
    op.drop_index(op.f("ix_billionmail_campaigns_user_id"), table_name="billionmail_campaigns")
    op.drop_index(op.f("ix_billionmail_campaigns_status"), table_name="billionmail_campaigns")
    op.drop_index(op.f("ix_billionmail_campaigns_billionmail_task_id"), table_name="billionmail_campaigns")
    op.drop_table("billionmail_campaigns")
