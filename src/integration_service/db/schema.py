"""The one schema definition (SQLAlchemy Core). Alembic migrations are checked against it.

Names follow the checklist's SQL in lower case (`integrations_credentials`, `sync_status`, ...) so
that every statement in the checklist runs verbatim. Money is NUMERIC, timestamps carry a time zone,
every foreign key says what happens on delete and has an index.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from integration_service.db.schema_parts import (
    MONEY,
    created_at,
    integration_id,
    one_of,
    provider_records_table,
    updated_at,
    user_id,
)

# Re-exported: migrations and tests take the metadata from here, where every table is registered on it.
from integration_service.db.schema_parts import metadata as metadata

INTEGRATION_TYPES = ("XERO", "MYOB", "QUICKBOOKS", "STRIPE", "PAYPAL", "BILLIONMAIL", "MAUTIC")
SYNC_STATUSES = ("IDLE", "SYNCING", "SUCCESS", "ERROR")
# `queued`: a sync job waits for a worker (jobs/); `running` once a worker holds the integration's lock.
SYNC_LOG_STATUSES = ("queued", "running", "success", "partial", "failed")
SYNC_TRIGGERS = ("request", "schedule")
# A token's own rate limit, "<count>/<unit>" as the `limits` library parses it (e.g. "600/minute").
RATE_LIMIT_FORMAT = "^[1-9][0-9]{0,8}/(second|minute|hour|day)$"


users = Table(
    "users",
    metadata,
    # Text, as the seed's string ids were, so that the checklist's `WHERE user_id = 'xxx'` runs verbatim.
    Column("id", Text, primary_key=True, server_default=text("gen_random_uuid()::text")),
    Column("name", Text, nullable=False, unique=True),
    created_at(),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    user_id(),
    # SHA-256 of the token: the token itself is shown once, at creation, and never stored.
    Column("token_hash", Text, nullable=False, unique=True),
    Column("label", Text, nullable=False, server_default=""),
    created_at(),
    Column("revoked_at", DateTime(timezone=True)),
    # The token's own request limit (e.g. a fuzz run's raised one), counted per token; NULL: its user's default.
    Column("rate_limit", Text),
    # Checked here too: an unparsable value read on the rate limiter's path would fail every request.
    CheckConstraint(f"rate_limit ~ '{RATE_LIMIT_FORMAT}'", name="rate_limit_format"),
)

integrations_credentials = Table(
    "integrations_credentials",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    user_id(),
    Column("integration_type", Text, nullable=False),
    Column("integration_name", Text, nullable=False),
    # Fernet ciphertexts (see security/encryption.py); never returned by the API.
    Column("access_token_encrypted", Text),
    Column("refresh_token_encrypted", Text),
    Column("api_key_encrypted", Text),
    Column("api_secret_encrypted", Text),
    Column("token_expires_at", DateTime(timezone=True)),
    Column("custom_data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("sync_status", Text, nullable=False, server_default="IDLE"),
    Column("sync_error", Text),
    Column("last_synced_at", DateTime(timezone=True)),
    # Scheduled syncs (jobs/schedule.py): when the next one is due, failures in a row, paused after too many.
    Column("next_sync_at", DateTime(timezone=True)),
    Column("sync_failures", Integer, nullable=False, server_default="0"),
    Column("sync_paused_at", DateTime(timezone=True)),
    created_at(),
    updated_at(),
    UniqueConstraint("user_id", "integration_type", "integration_name"),
    CheckConstraint(one_of("integration_type", INTEGRATION_TYPES), name="integration_type"),
    CheckConstraint(one_of("sync_status", SYNC_STATUSES), name="sync_status"),
    # Daily check: GROUP BY integration_type, sync_status.
    Index(None, "integration_type", "sync_status"),
)

integrations_sync_logs = Table(
    "integrations_sync_logs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    integration_id(),
    user_id(),
    Column("integration_type", Text, nullable=False),
    Column("sync_type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("total_records", Integer, nullable=False, server_default="0"),
    Column("synced_records", Integer, nullable=False, server_default="0"),
    Column("failed_records", Integer, nullable=False, server_default="0"),
    Column("error_message", Text),
    Column("duration_ms", Integer),
    created_at(),
    Column("completed_at", DateTime(timezone=True)),
    # Refreshed by a running sync as it stores each page: a `running` row whose heartbeat stopped belongs
    # to a run that died or hangs (see sync/runs.py).
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("job_id", BigInteger),  # the queue's job running it; what asked for it; the result the API returns
    Column("trigger", Text, nullable=False, server_default="request"),
    Column("outcome", JSONB),
    CheckConstraint(one_of("status", SYNC_LOG_STATUSES), name="status"),
    CheckConstraint(one_of("trigger", SYNC_TRIGGERS), name="trigger"),
    CheckConstraint("total_records >= 0 AND synced_records >= 0 AND failed_records >= 0", name="counts_not_negative"),
    # The logs route lists one integration's runs newest first.
    Index(None, "integration_id", "created_at"),
    # Daily checks: failures and webhook volume in the last 24 hours.
    Index(None, "status", "created_at"),
    Index(None, "sync_type", "created_at"),
    Index(None, "created_at"),
    Index(  # at most one queued or running sync per integration (jobs/enqueue.py relies on it)
        "uq_integrations_sync_logs_one_open_per_integration",
        "integration_id",
        unique=True,
        postgresql_where=text("status IN ('queued', 'running')"),
    ),
)


xero_invoices = provider_records_table(
    "xero_invoices",
    "xero_invoice_id",
    Column("invoice_number", Text),
    Column("invoice_type", Text),
    Column("status", Text),
    Column("contact_id", Text),
    Column("contact_name", Text),
    Column("currency_code", Text),
    Column("sub_total", MONEY),
    Column("total_tax", MONEY),
    Column("total", MONEY),
    Column("amount_due", MONEY),
    Column("amount_paid", MONEY),
    Column("invoice_date", DateTime(timezone=True)),
    Column("due_date", DateTime(timezone=True)),
    Index(None, "status"),
)

xero_contacts = provider_records_table(
    "xero_contacts",
    "xero_contact_id",
    Column("name", Text),
    Column("email_address", Text),
    Column("contact_status", Text),
    Column("is_customer", Boolean),
    Column("is_supplier", Boolean),
)

myob_invoices = provider_records_table(
    "myob_invoices",
    "myob_invoice_uid",
    Column("company_file_id", Text, nullable=False),
    Column("invoice_number", Text),
    Column("invoice_type", Text),
    Column("status", Text),
    Column("customer_uid", Text),
    Column("customer_name", Text),
    Column("subtotal", MONEY),
    Column("total_tax", MONEY),
    Column("total_amount", MONEY),
    Column("balance_due_amount", MONEY),
    Column("invoice_date", DateTime(timezone=True)),
)

quickbooks_invoices = provider_records_table(
    "quickbooks_invoices",
    "quickbooks_invoice_id",
    Column("realm_id", Text, nullable=False),
    Column("doc_number", Text),
    Column("customer_id", Text),
    Column("customer_name", Text),
    Column("currency_code", Text),
    Column("total_amount", MONEY),
    Column("balance", MONEY),
    Column("txn_date", DateTime(timezone=True)),
    Column("due_date", DateTime(timezone=True)),
)

# Payments. Stripe amounts are integers in the currency's minor unit (cents), exactly as Stripe sends
# them, kept in NUMERIC(18, 0); PayPal sends decimal strings, kept in NUMERIC(18, 4).
MINOR_UNITS = Numeric(18, 0)

stripe_payments = provider_records_table(
    "stripe_payments",
    "stripe_charge_id",
    Column("payment_intent_id", Text),
    Column("customer_id", Text),
    Column("amount", MINOR_UNITS),
    Column("amount_refunded", MINOR_UNITS, nullable=False, server_default="0"),
    Column("currency", Text),
    Column("status", Text),
    Column("refunded", Boolean, nullable=False, server_default=text("false")),
    Column("failure_code", Text),
    Column("failure_message", Text),
    Column("description", Text),
    # When the state in this row was true at Stripe (the newest event or object seen), so that an
    # older event arriving late never overwrites a newer state.
    Column("state_at", DateTime(timezone=True)),
    Index(None, "payment_intent_id"),
    Index(None, "status"),
)

stripe_subscriptions = provider_records_table(
    "stripe_subscriptions",
    "stripe_subscription_id",
    Column("customer_id", Text),
    Column("price_id", Text),
    Column("status", Text),
    Column("cancel_at_period_end", Boolean),
    Column("current_period_end", DateTime(timezone=True)),
    Column("canceled_at", DateTime(timezone=True)),
    Column("state_at", DateTime(timezone=True)),
    Index(None, "status"),
)

paypal_payments = provider_records_table(
    "paypal_payments",
    "paypal_payment_id",
    Column("sale_id", Text),
    Column("intent", Text),
    Column("state", Text),
    Column("amount", MONEY),
    Column("currency", Text),
    Column("payer_id", Text),
    Column("refunded_amount", MONEY, nullable=False, server_default="0"),
    Column("state_at", DateTime(timezone=True)),
    Index(None, "sale_id"),
    Index(None, "state"),
)

# Checkout orders (Orders v2): created and captured through an integration, moved on by webhooks.
paypal_orders = provider_records_table(
    "paypal_orders",
    "paypal_order_id",
    Column("intent", Text),
    Column("status", Text),
    Column("amount", MONEY),
    Column("currency", Text),
    Column("payer_id", Text),
    Column("capture_id", Text),
    Column("state_at", DateTime(timezone=True)),
    Index(None, "capture_id"),
    Index(None, "status"),
)

paypal_subscriptions = provider_records_table(
    "paypal_subscriptions",
    "paypal_subscription_id",
    Column("plan_id", Text),
    Column("status", Text),
    Column("subscriber_email", Text),
    Column("start_time", DateTime(timezone=True)),
    Column("state_at", DateTime(timezone=True)),
    Index(None, "status"),
)

# Marketing.
billionmail_campaigns = provider_records_table(
    "billionmail_campaigns",
    "billionmail_task_id",
    Column("task_name", Text),
    Column("subject", Text),
    Column("addresser", Text),
    Column("template_id", Text),
    Column("group_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("status", Text),
    Column("recipient_count", Integer),
    Column("sent_count", Integer),
    Column("start_time", DateTime(timezone=True)),
    Index(None, "status"),
)

mautic_campaigns = provider_records_table(
    "mautic_campaigns",
    "mautic_campaign_id",
    Column("name", Text),
    Column("description", Text),
    Column("is_published", Boolean),
    Column("category", Text),
    Column("publish_up", DateTime(timezone=True)),
    Column("publish_down", DateTime(timezone=True)),
)

# Every webhook event received, verified or not: stored once by the provider's event id, which is what
# makes a redelivery harmless. `outcome` says what it did.
WEBHOOK_OUTCOMES = ("applied", "duplicate", "ignored", "unmatched", "rejected")
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("provider", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column(
        "integration_id",
        UUID(as_uuid=True),
        ForeignKey("integrations_credentials.id", ondelete="SET NULL"),
        index=True,
    ),
    Column("outcome", Text, nullable=False),
    Column("detail", Text),
    Column("payload", JSONB, nullable=False),
    # Provider's event time, our receive time and our apply time: the latency the monitor watches.
    Column("occurred_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("applied_at", DateTime(timezone=True)),
    UniqueConstraint("provider", "event_id"),
    CheckConstraint(one_of("outcome", WEBHOOK_OUTCOMES), name="outcome"),
    Index(None, "received_at"),
    Index(None, "event_type"),
)


# A pending OAuth authorisation: random, single-use (deleted when used), expiring, bound to a user.
oauth_states = Table(
    "oauth_states",
    metadata,
    Column("state_hash", Text, primary_key=True),
    user_id(),
    Column("integration_type", Text, nullable=False),
    Column("integration_name", Text, nullable=False),
    Column("custom_data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    created_at(),
)


# Each PayPal webhook transmission (PAYPAL-TRANSMISSION-ID) is accepted once: the signature covers the
# body only through its CRC32, so a used transmission's headers must never carry a second body.
# Rows older than the timestamp tolerance can no longer verify; the webhook prunes them after a day.
paypal_webhook_transmissions = Table(
    "paypal_webhook_transmissions",
    metadata,
    Column("transmission_id", Text, primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "received_at"),
)


# OAuth token refreshes by result, counted by whichever process refreshed (web or worker); /metrics reads them.
token_refresh_counts = Table(
    "token_refresh_counts",
    metadata,
    Column("result", Text, primary_key=True),
    Column("count", BigInteger, nullable=False, server_default="0"),
)
