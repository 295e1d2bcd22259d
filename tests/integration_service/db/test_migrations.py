"""Migrations: upgrade, no drift from schema.py, full downgrade; the checklist's SQL runs verbatim."""

from __future__ import annotations

import psycopg
import pytest

from integration_service.db import migrations

pytestmark = pytest.mark.db

# Copied verbatim from the checklist ("Database Testing", "Daily Checks", "Production Database").
CHECKLIST_SQL = [
    "SELECT * FROM integrations_Credentials;",
    "SELECT * FROM integrations_Sync_Logs;",
    "SELECT * FROM xero_Invoices LIMIT 10;",
    "EXPLAIN ANALYZE SELECT * FROM integrations_Credentials WHERE user_id = 'xxx';",
    "SELECT COUNT(*) FROM xero_Invoices WHERE xero_invoice_id IS NULL;",
    "SELECT COUNT(*) FROM integrations_Credentials;",
    """SELECT integration_type, sync_status, COUNT(*)
FROM integrations_Credentials
GROUP BY integration_type, sync_status;""",
    """SELECT integration_type, COUNT(*) as errors
FROM integrations_Sync_Logs
WHERE status = 'failed' AND created_at > NOW() - INTERVAL '24 hours'
GROUP BY integration_type;""",
    """SELECT integration_type, COUNT(*)
FROM integrations_Sync_Logs
WHERE sync_type IN ('webhook', 'event')
AND created_at > NOW() - INTERVAL '24 hours'
GROUP BY integration_type;""",
]


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_upgrade_check_downgrade_upgrade(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url)
    assert {
        "users",
        "api_tokens",
        "integrations_credentials",
        "integrations_sync_logs",
        "xero_invoices",
    } <= tables(empty_database_url)
    migrations.check(empty_database_url)  # raises if schema.py and the migrations disagree
    migrations.downgrade(empty_database_url, "base")
    assert tables(empty_database_url) <= {"alembic_version"}
    migrations.upgrade(empty_database_url)
    with psycopg.connect(empty_database_url) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (migrations.head_revision(),)


def text_pairs(rows: list[tuple[object, ...]]) -> dict[str, str]:
    """Rows of two text columns (a name and what it has) as a mapping."""
    pairs: dict[str, str] = {}
    for name, value in rows:
        assert isinstance(name, str), name
        assert isinstance(value, str), value
        pairs[name] = value
    return pairs


@pytest.mark.parametrize("statement", CHECKLIST_SQL, ids=lambda s: " ".join(s.split())[:60])
def test_checklist_sql_runs_verbatim(sql: psycopg.Connection[tuple[object, ...]], statement: str) -> None:
    sql.execute(statement).fetchall()


def test_every_foreign_key_has_an_index_and_a_delete_rule(
    sql: psycopg.Connection[tuple[object, ...]],
) -> None:
    unindexed = sql.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname
        FROM pg_constraint c
        WHERE c.contype = 'f' AND NOT EXISTS (
            SELECT 1 FROM pg_index i
            WHERE i.indrelid = c.conrelid AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey
        )
        """
    ).fetchall()
    assert unindexed == []
    # The job queue's tables are procrastinate's (jobs/): its own schema, its own rules.
    rules = sql.execute(
        "SELECT conname, confdeltype FROM pg_constraint WHERE contype = 'f' AND conname NOT LIKE 'procrastinate%'"
    ).fetchall()
    assert rules
    # Chosen explicitly: 'c' CASCADE (owned data) or 'n' SET NULL (the webhook log outlives an integration),
    # never the default 'a' NO ACTION, which would make deleting a user fail half-way.
    assert {name: rule for name, rule in rules if rule not in ("c", "n")} == {}
    assert text_pairs(rules)["fk_webhook_events_integration_id_integrations_credentials"] == "n"


def test_money_is_numeric_and_time_has_a_zone(sql: psycopg.Connection[tuple[object, ...]]) -> None:
    types = text_pairs(
        sql.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    )
    assert not [name for name, kind in types.items() if kind in ("real", "double precision", "money")]
    assert not [name for name, kind in types.items() if kind == "timestamp without time zone"]
    assert types["xero_invoices.total"] == "numeric"
