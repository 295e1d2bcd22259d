"""Steps of the database items (DB-01..DB-04) and of the database testing procedure (OPS-DBTEST).

The checks read the stage's live schema over SQL and hold it against the migrations of the checkout being
released (Alembic, run as the harness runs it); drift is shown on a scratch database of their own.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
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


@when("the migration revision of the stage database is read")
def read_live_revision(world: World) -> None:
    world.facts["revision"] = alembic_revision(_ops_target(world).database_url)


@then("it is the newest migration of the checkout being released")
def revision_is_head(world: World) -> None:
    head = run_alembic(_ops_target(world), "head")
    assert world.facts["revision"] == head, (
        f"the database is at {world.facts['revision']}, the release's head is {head}"
    )


@then("the service's health check reports the schema at head")
def health_reports_head(world: World) -> None:
    response = world.client().get("/api/health")
    assert response.status_code == 200, f"the service is not healthy: {describe(response)}"
    assert response.json()["checks"]["migrations"].startswith("at head"), describe(response)


@when("Alembic compares the stage database with the checkout's schema")
def alembic_check_stage(world: World) -> None:
    world.facts["drift"] = _alembic_check(_ops_target(world))


@when("Alembic compares the scratch database with the checkout's schema")
def alembic_check_scratch(world: World) -> None:
    world.facts["drift"] = _alembic_check(_ops_target(world, world.facts["scratch_url"]))


def _alembic_check(target: Target) -> str | None:
    try:
        run_alembic(target, "check")
    except OpsError as exc:
        return str(exc)
    return None


@then("Alembic finds no difference between them")
def alembic_no_drift(world: World) -> None:
    assert world.facts["drift"] is None, f"the live schema drifted from the migrations: {world.facts['drift']}"


@given("a scratch database migrated to the newest migration")
def scratch_database(world: World, request: pytest.FixtureRequest) -> None:
    server = _ops_target(world).database_url
    name = f"qa_drift_{uuid.uuid4().hex[:8]}"
    world.facts["scratch_url"] = create_database(server, name)
    undo_at_end(request, lambda: drop_database(server, name))
    run_alembic(_ops_target(world, world.facts["scratch_url"]), "upgrade", "head")


@given(parsers.parse('a column added to "{table}" of the scratch database by hand'))
def add_column_by_hand(world: World, table: str) -> None:
    with psycopg.connect(world.facts["scratch_url"], autocommit=True) as connection:
        connection.execute(f"ALTER TABLE {table} ADD COLUMN qa_hand_made TEXT")


@then(parsers.parse('Alembic reports the drift on "{table}"'))
def alembic_reports_drift(world: World, table: str) -> None:
    drift = world.facts["drift"]
    assert drift is not None, f"alembic check missed a column added to {table} by hand"
    assert table in drift, f"alembic check failed, but not on {table}: {drift}"


@when(parsers.re(r'the planner explains "(?P<query>.+)" with sequential scans discouraged$'))
def explain_query(world: World, query: str) -> None:
    with stage_sql(world) as connection, connection.transaction():
        # Local to this transaction: the planner then takes any usable index over a table scan, so a
        # missing index shows as a Seq Scan whatever the table's size on this stage.
        connection.execute("SET LOCAL enable_seqscan = off")
        plan = connection.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchone()
        assert plan is not None
        world.facts["plan"] = plan[0][0]["Plan"]
        names = {node["Index Name"] for node in _plan_nodes(world.facts["plan"]) if "Index Name" in node}
        world.facts["indexes"] = {name: _index_of(connection, name) for name in names}
        world.facts["leading_columns"] = _leading_columns(connection)


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
def plan_uses_index(world: World, table: str, columns: str) -> None:
    wanted = {column.strip() for column in columns.split(",")}
    leading = world.facts["leading_columns"].get(table, set())
    assert wanted & leading, f"{table} has no index led by {sorted(wanted)}; its indexes lead by {sorted(leading)}"
    # A bitmap scan names the table on its heap node and the index on a child node: indexes are
    # matched to the table through the catalogue, not through the plan's shape. With the stage's own
    # statistics the planner may prefer another index of the table (e.g. one that gives the ORDER BY):
    # the query is served by an index either way; a Seq Scan (the only path left without one) is not.
    used = {name: column for name, (owner, column) in world.facts["indexes"].items() if owner == table}
    scans = [node["Node Type"] for node in _plan_nodes(world.facts["plan"]) if node.get("Relation Name") == table]
    assert scans or used, f"the plan does not read {table}: {json.dumps(world.facts['plan'])[:1500]}"
    read_by = f"{table} is read by {', '.join(scans)} with indexes {used or 'none'}; expected an index scan"
    assert used, read_by
    assert "Seq Scan" not in scans, read_by


_REFERENCES = {"user_id": "users", "integration_id": "integrations_credentials"}


@when("the columns and constraints of the stage database are read")
def read_constraints(world: World) -> None:
    with stage_sql(world) as connection:
        world.facts["columns"] = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = ANY(%s)",
            [list(_REFERENCES)],
        ).fetchall()
        world.facts["foreign_keys"] = connection.execute(
            "SELECT con.conname, child.relname, a.attname, parent.relname, pa.attname, con.convalidated "
            "FROM pg_constraint con "
            "JOIN pg_class child ON child.oid = con.conrelid JOIN pg_class parent ON parent.oid = con.confrelid "
            "JOIN pg_namespace n ON n.oid = child.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] "
            "JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = con.confkey[1] "
            "WHERE con.contype = 'f' AND n.nspname = 'public' AND cardinality(con.conkey) = 1"
        ).fetchall()


@then(parsers.parse('every "{column}" column is a foreign key to "{parent}"'))
def column_is_foreign_key(world: World, column: str, parent: str) -> None:
    tables = sorted(table for table, name in world.facts["columns"] if name == column)
    assert tables, f"no table has a {column} column: the schema is not the service's"
    keyed = {(child, col) for _, child, col, target, _, _ in world.facts["foreign_keys"] if target == parent}
    missing = [table for table in tables if (table, column) not in keyed]
    assert not missing, f"{column} is not a foreign key to {parent} in: {', '.join(missing)}"


@then("every foreign key is validated")
def foreign_keys_validated(world: World) -> None:
    unvalidated = [name for name, *_, validated in world.facts["foreign_keys"] if not validated]
    assert not unvalidated, f"foreign keys created NOT VALID (old rows never checked): {', '.join(unvalidated)}"


@then("no row points at a parent that does not exist")
def no_orphans(world: World) -> None:
    orphans = []
    with stage_sql(world) as connection:
        for name, child, column, parent, parent_column, _ in world.facts["foreign_keys"]:
            row = connection.execute(
                f"SELECT count(*) FROM {child} c WHERE c.{column} IS NOT NULL "  # noqa: S608 - catalogue names
                f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_column} = c.{column})"
            ).fetchone()
            if row and row[0]:
                orphans.append(f"{child}.{column} → {parent}: {row[0]} rows ({name})")
    assert not orphans, "orphan rows: " + "; ".join(orphans)


@when("a Xero invoice of an integration that does not exist is inserted, then rolled back")
def insert_orphan_invoice(world: World) -> None:
    world.facts["refusal"] = None
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
            world.facts["refusal"] = exc


@then("the database refuses it as a foreign key violation")
def refused_as_foreign_key(world: World) -> None:
    refusal = world.facts["refusal"]
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


@given(parsers.parse('"{name}" has stored an integration for the database checks'))
def store_integration_for_db_checks(world: World, request: pytest.FixtureRequest, name: str) -> None:
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
    world.facts["user_ids"] = {name: str(row[0])}


@when("the checklist's database testing queries run verbatim on the stage database")
def run_database_testing_queries(world: World) -> None:
    results: dict[str, Any] = {}
    with stage_sql(world) as connection:
        for query in _TABLE_CHECKS:  # counted, not fetched: production tables are not for printing
            counted = f"SELECT count(*) FROM ({query.rstrip(';')}) AS checked"  # noqa: S608 - the checklist's own SQL
            row = connection.execute(counted).fetchone()
            results[query] = None if row is None else row[0]
        world.facts["table_checks"] = results
        with connection.transaction():
            # A small table's cheapest plan is a sequential scan (scenarios remove their rows, and a young
            # stage has few): the question is whether the index serves the lookup, as DB-03 asks it.
            connection.execute("SET LOCAL enable_seqscan = off")
            world.facts["lookup_plans"] = {
                name: [
                    str(row[0]) for row in connection.execute(_CREDENTIALS_LOOKUP.replace("xxx", user_id)).fetchall()
                ]
                for name, user_id in world.facts["user_ids"].items()
            }
        null_ids = connection.execute(_NULL_IDS).fetchone()
        world.facts["null_invoice_ids"] = None if null_ids is None else null_ids[0]


@then("every integration table of the checklist answers")
def integration_tables_answer(world: World) -> None:
    for query, count in world.facts["table_checks"].items():
        assert isinstance(count, int), f"{query} gave no answer"
    assert world.facts["table_checks"][_TABLE_CHECKS[0]] >= 1, "the scenario's own integration is not in the table"


@then(
    parsers.parse(
        'EXPLAIN ANALYZE of the credentials lookup for "{name}" scans an index and finds her {rows:d} integration'
    )
)
def credentials_lookup_uses_index(world: World, name: str, rows: int) -> None:
    plan = "\n".join(world.facts["lookup_plans"][name])
    assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), f"the lookup by user_id scans the table:\n{plan}"
    found = re.search(r"\(actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)
    assert found, f"EXPLAIN ANALYZE reported no actual rows:\n{plan}"
    assert int(found.group(1)) == rows, f"expected the lookup to find {rows} row(s):\n{plan}"


@then("no Xero invoice is stored without its Xero id")
def no_null_xero_ids(world: World) -> None:
    assert world.facts["null_invoice_ids"] == 0, f"{world.facts['null_invoice_ids']} Xero invoices have no Xero id"
