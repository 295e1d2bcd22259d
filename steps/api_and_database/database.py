"""Steps of the database items (DB-01..DB-04) and of the database testing procedure (OPS-DBTEST).

The checks read the stage's live schema over SQL and hold it against the migrations of the checkout being
released (Alembic, run as the harness runs it); drift is shown on a scratch database of their own.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from pytest_bdd import given, parsers, then, when

from harness.core.database import create_database, drop_database
from harness.core.stages import parse_stage
from harness.ops.common import OpsError, Target
from harness.ops.migrate import run_alembic
from harness.ops.pgtools import alembic_revision
from steps.common import World, describe
from steps.support.pre_deployment import stage_sql, undo_at_end


def _ops_target(world: World, database_url: str | None = None) -> Target:
    url = database_url or world.target.database_url
    if url is None:
        pytest.fail("QA_DATABASE_URL is not set: the database items read the stage's database")
    return Target(stage=parse_stage(world.target.stage), database_url=url, checkout=world.target.project_root)


@when("the migration revision of the stage database is read", target_fixture="live_revision")
def read_live_revision(world: World) -> str | None:
    return alembic_revision(_ops_target(world).database_url)


@then("it is the newest migration of the checkout being released")
def revision_is_head(world: World, live_revision: str | None) -> None:
    head = run_alembic(_ops_target(world), "head")
    assert live_revision == head, f"the database is at {live_revision}, the release's head is {head}"


@then("the service's health check reports the schema at head")
def health_reports_head(world: World) -> None:
    response = world.client().get("/api/health")
    assert response.status_code == 200, f"the service is not healthy: {describe(response)}"
    assert response.json()["checks"]["migrations"].startswith("at head"), describe(response)


@dataclass(frozen=True)
class SchemaCheck:
    """What `alembic check` said of a database: None when it found no difference."""

    drift: str | None


@when("Alembic compares the stage database with the checkout's schema", target_fixture="schema_check")
def alembic_check_stage(world: World) -> SchemaCheck:
    return SchemaCheck(_alembic_check(_ops_target(world)))


@when("Alembic compares the scratch database with the checkout's schema", target_fixture="schema_check")
def alembic_check_scratch(world: World, scratch_database_url: str) -> SchemaCheck:
    return SchemaCheck(_alembic_check(_ops_target(world, scratch_database_url)))


def _alembic_check(target: Target) -> str | None:
    try:
        run_alembic(target, "check")
    except OpsError as exc:
        return str(exc)
    return None


@then("Alembic finds no difference between them")
def alembic_no_drift(schema_check: SchemaCheck) -> None:
    assert schema_check.drift is None, f"the live schema drifted from the migrations: {schema_check.drift}"


@given("a scratch database migrated to the newest migration", target_fixture="scratch_database_url")
def scratch_database(world: World, request: pytest.FixtureRequest) -> str:
    server = _ops_target(world).database_url
    name = f"qa_drift_{uuid.uuid4().hex[:8]}"
    scratch_url = create_database(server, name)
    undo_at_end(request, lambda: drop_database(server, name))
    run_alembic(_ops_target(world, scratch_url), "upgrade", "head")
    return scratch_url


@given(parsers.parse('a column added to "{table}" of the scratch database by hand'))
def add_column_by_hand(scratch_database_url: str, table: str) -> None:
    with psycopg.connect(scratch_database_url, autocommit=True) as connection:
        connection.execute(f"ALTER TABLE {table} ADD COLUMN qa_hand_made TEXT")


@then(parsers.parse('Alembic reports the drift on "{table}"'))
def alembic_reports_drift(schema_check: SchemaCheck, table: str) -> None:
    drift = schema_check.drift
    assert drift is not None, f"alembic check missed a column added to {table} by hand"
    assert table in drift, f"alembic check failed, but not on {table}: {drift}"


@dataclass(frozen=True)
class QueryPlan:
    """A query's plan, the indexes it names (name: (table, leading column)) and every table's index leads."""

    plan: dict[str, Any]
    indexes: dict[str, tuple[str, str]]
    leading_columns: dict[str, set[str]]


@when(
    parsers.re(r'the planner explains "(?P<query>.+)" with sequential scans discouraged$'), target_fixture="query_plan"
)
def explain_query(world: World, query: str) -> QueryPlan:
    with stage_sql(world) as connection, connection.transaction():
        # Local to this transaction: the planner then takes any usable index over a table scan, so a
        # missing index shows as a Seq Scan whatever the table's size on this stage.
        connection.execute("SET LOCAL enable_seqscan = off")
        plan = connection.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchone()
        assert plan is not None
        root: dict[str, Any] = plan[0][0]["Plan"]
        names = {node["Index Name"] for node in _plan_nodes(root) if "Index Name" in node}
        indexes = {name: _index_of(connection, name) for name in names}
        return QueryPlan(plan=root, indexes=indexes, leading_columns=_leading_columns(connection))


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _index_of(connection: psycopg.Connection[tuple[Any, ...]], index: str) -> tuple[str, str]:
    """The table an index belongs to and its leading column."""
    row = connection.execute(
        "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE c.relname = %s",
        [index],
    ).fetchone()
    return ("", "") if row is None else (str(row[0]), str(row[1]))


def _leading_columns(connection: psycopg.Connection[tuple[Any, ...]]) -> dict[str, set[str]]:
    """Table -> the leading column of each of its indexes (the public schema)."""
    rows = connection.execute(
        "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE n.nspname = 'public'"
    ).fetchall()
    leading: dict[str, set[str]] = {}
    for table, column in rows:
        leading.setdefault(str(table), set()).add(str(column))
    return leading


@then(parsers.parse("the plan reads {table} through an index led by one of: {columns}"))
def plan_uses_index(query_plan: QueryPlan, table: str, columns: str) -> None:
    wanted = {column.strip() for column in columns.split(",")}
    leading = query_plan.leading_columns.get(table, set())
    assert wanted & leading, f"{table} has no index led by {sorted(wanted)}; its indexes lead by {sorted(leading)}"
    # A bitmap scan names the table on its heap node and the index on a child node: indexes are
    # matched to the table through the catalogue, not through the plan's shape. With the stage's own
    # statistics the planner may prefer another index of the table (e.g. one that gives the ORDER BY):
    # the query is served by an index either way; a Seq Scan (the only path left without one) is not.
    used = {name: column for name, (owner, column) in query_plan.indexes.items() if owner == table}
    scans = [node["Node Type"] for node in _plan_nodes(query_plan.plan) if node.get("Relation Name") == table]
    assert scans or used, f"the plan does not read {table}: {json.dumps(query_plan.plan)[:1500]}"
    read_by = f"{table} is read by {', '.join(scans)} with indexes {used or 'none'}; expected an index scan"
    assert used, read_by
    assert "Seq Scan" not in scans, read_by


_REFERENCES = {"user_id": "users", "integration_id": "integrations_credentials"}


@dataclass(frozen=True)
class Constraints:
    """The reference columns of the public schema (table, column) and its single-column foreign keys
    (name, child table, column, parent table, parent column, validated)."""

    columns: list[tuple[Any, ...]]
    foreign_keys: list[tuple[Any, ...]]


@when("the columns and constraints of the stage database are read", target_fixture="constraints")
def read_constraints(world: World) -> Constraints:
    with stage_sql(world) as connection:
        columns = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = ANY(%s)",
            [list(_REFERENCES)],
        ).fetchall()
        foreign_keys = connection.execute(
            "SELECT con.conname, child.relname, a.attname, parent.relname, pa.attname, con.convalidated "
            "FROM pg_constraint con "
            "JOIN pg_class child ON child.oid = con.conrelid JOIN pg_class parent ON parent.oid = con.confrelid "
            "JOIN pg_namespace n ON n.oid = child.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] "
            "JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = con.confkey[1] "
            "WHERE con.contype = 'f' AND n.nspname = 'public' AND cardinality(con.conkey) = 1"
        ).fetchall()
    return Constraints(columns=columns, foreign_keys=foreign_keys)


@then(parsers.parse('every "{column}" column is a foreign key to "{parent}"'))
def column_is_foreign_key(constraints: Constraints, column: str, parent: str) -> None:
    tables = sorted(table for table, name in constraints.columns if name == column)
    assert tables, f"no table has a {column} column: the schema is not the service's"
    keyed = {(child, col) for _, child, col, target, _, _ in constraints.foreign_keys if target == parent}
    missing = [table for table in tables if (table, column) not in keyed]
    assert not missing, f"{column} is not a foreign key to {parent} in: {', '.join(missing)}"


@then("every foreign key is validated")
def foreign_keys_validated(constraints: Constraints) -> None:
    unvalidated = [name for name, *_, validated in constraints.foreign_keys if not validated]
    assert not unvalidated, f"foreign keys created NOT VALID (old rows never checked): {', '.join(unvalidated)}"


@then("no row points at a parent that does not exist")
def no_orphans(world: World, constraints: Constraints) -> None:
    orphans = []
    with stage_sql(world) as connection:
        for name, child, column, parent, parent_column, _ in constraints.foreign_keys:
            row = connection.execute(
                f"SELECT count(*) FROM {child} c WHERE c.{column} IS NOT NULL "  # noqa: S608 - catalogue names
                f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_column} = c.{column})"
            ).fetchone()
            if row and row[0]:
                orphans.append(f"{child}.{column} → {parent}: {row[0]} rows ({name})")
    assert not orphans, "orphan rows: " + "; ".join(orphans)


@when(
    "a Xero invoice of an integration that does not exist is inserted, then rolled back",
    target_fixture="insert_refusal",
)
def insert_orphan_invoice(world: World) -> psycopg.Error | None:
    with stage_sql(world) as connection:
        try:
            with connection.transaction(force_rollback=True):
                # A real owner, so that only the missing integration can be the reason for a refusal.
                owner = f"qa-orphan-{uuid.uuid4().hex}"
                connection.execute("INSERT INTO users (id, name) VALUES (%s, %s)", [owner, owner])
                connection.execute(
                    "INSERT INTO xero_invoices (integration_id, user_id, xero_invoice_id) VALUES (%s, %s, %s)",
                    [uuid.uuid4(), owner, owner],
                )
                connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
        except psycopg.Error as exc:
            return exc
    return None


@then("the database refuses it as a foreign key violation")
def refused_as_foreign_key(insert_refusal: psycopg.Error | None) -> None:
    refusal = insert_refusal
    assert refusal is not None, "the database accepted an invoice of an integration that does not exist"
    assert isinstance(refusal, psycopg.errors.ForeignKeyViolation), f"refused, but not by a foreign key: {refusal}"
    assert "integration_id" in (refusal.diag.constraint_name or ""), (
        f"refused by {refusal.diag.constraint_name}, not by the integration_id foreign key"
    )


# --- database testing (the checklist's queries, verbatim) --------------------------------------------

_TABLE_CHECKS = (
    "SELECT * FROM integrations_Credentials;",
    "SELECT * FROM integrations_Sync_Logs;",
    "SELECT * FROM xero_Invoices LIMIT 10;",
)
_CREDENTIALS_LOOKUP = "EXPLAIN ANALYZE SELECT * FROM integrations_Credentials WHERE user_id = 'xxx';"
_NULL_IDS = "SELECT COUNT(*) FROM xero_Invoices WHERE xero_invoice_id IS NULL;"


@given(parsers.parse('"{name}" has stored an integration for the database checks'), target_fixture="db_check_users")
def store_integration_for_db_checks(world: World, request: pytest.FixtureRequest, name: str) -> dict[str, str]:
    user = world.user(name)
    created = user.client.post(
        "/api/integrations", json={"integrationType": "XERO", "integrationName": f"db-checks-{uuid.uuid4().hex[:6]}"}
    )
    assert created.status_code == 201, describe(created)
    integration_id = created.json()["integration"]["id"]
    undo_at_end(request, lambda: user.client.delete(f"/api/integrations/{integration_id}"))
    with stage_sql(world) as connection:
        row = connection.execute("SELECT id FROM users WHERE name = %s", [user.account]).fetchone()
    assert row is not None, "the scenario's user is not in the users table"
    return {name: str(row[0])}  # the scenario's name: the user's id


@dataclass(frozen=True)
class DatabaseTesting:
    """The answers of the checklist's queries: each table check's count, each user's credentials lookup
    plan (EXPLAIN ANALYZE lines), and how many Xero invoices lack a Xero id."""

    table_checks: dict[str, Any]
    lookup_plans: dict[str, list[str]]
    null_invoice_ids: Any


@when("the checklist's database testing queries run verbatim on the stage database", target_fixture="db_testing")
def run_database_testing_queries(world: World, db_check_users: dict[str, str]) -> DatabaseTesting:
    results: dict[str, Any] = {}
    with stage_sql(world) as connection:
        for query in _TABLE_CHECKS:  # counted, not fetched: production tables are not for printing
            counted = f"SELECT count(*) FROM ({query.rstrip(';')}) AS checked"  # noqa: S608 - the checklist's own SQL
            row = connection.execute(counted).fetchone()
            results[query] = None if row is None else row[0]
        with connection.transaction():
            # A small table's cheapest plan is a sequential scan (scenarios remove their rows, and a young
            # stage has few): the question is whether the index serves the lookup, as DB-03 asks it.
            connection.execute("SET LOCAL enable_seqscan = off")
            lookup_plans = {
                name: [
                    str(row[0]) for row in connection.execute(_CREDENTIALS_LOOKUP.replace("xxx", user_id)).fetchall()
                ]
                for name, user_id in db_check_users.items()
            }
        null_ids = connection.execute(_NULL_IDS).fetchone()
    return DatabaseTesting(
        table_checks=results, lookup_plans=lookup_plans, null_invoice_ids=None if null_ids is None else null_ids[0]
    )


@then("every integration table of the checklist answers")
def integration_tables_answer(db_testing: DatabaseTesting) -> None:
    for query, count in db_testing.table_checks.items():
        assert isinstance(count, int), f"{query} gave no answer"
    assert db_testing.table_checks[_TABLE_CHECKS[0]] >= 1, "the scenario's own integration is not in the table"


@then(
    parsers.parse(
        'EXPLAIN ANALYZE of the credentials lookup for "{name}" scans an index and finds her {rows:d} integration'
    )
)
def credentials_lookup_uses_index(db_testing: DatabaseTesting, name: str, rows: int) -> None:
    plan = "\n".join(db_testing.lookup_plans[name])
    assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), f"the lookup by user_id scans the table:\n{plan}"
    found = re.search(r"\(actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)
    assert found, f"EXPLAIN ANALYZE reported no actual rows:\n{plan}"
    assert int(found.group(1)) == rows, f"expected the lookup to find {rows} row(s):\n{plan}"


@then("no Xero invoice is stored without its Xero id")
def no_null_xero_ids(db_testing: DatabaseTesting) -> None:
    missing = db_testing.null_invoice_ids
    assert missing == 0, f"{missing} Xero invoices have no Xero id"
