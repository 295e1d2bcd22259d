"""Steps of the pre-deployment checklist: code quality, database, environment variables, documentation,
performance, and the database testing procedure.

The tool checks run the real tools on the checkout being released (`world.target.project_root`); the
database checks read the stage's live schema over SQL; the documentation checks hold README.md and
INTEGRATIONS.md against the stage's own API schema; the performance checks drive syncs against
organisations of the provider sandbox that each scenario makes for itself. What the service's code
declares (its settings) is asked of the checkout in a child process, never imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from pytest_bdd import given, parsers, then, when

from harness.database import create_database, drop_database
from harness.gates import junit_counts
from harness.ops.common import OpsError, OpsSettings, Target
from harness.ops.migrate import run_alembic
from harness.ops.pgtools import alembic_revision
from harness.processes import ServerProcess, ServerStartError
from harness.secrets_scan import scan_files, scan_repository
from harness.stack import sandbox_service_env, service_process
from harness.stages import parse_stage, stage_env_file
from steps.common import World, connect_account, describe, error_code

TOOL_TIMEOUT_S = 15 * 60
SYNC_TIMEOUT_S = 120.0
# What must never reach a client: a traceback, or the names of the layers under the API.
INTERNALS = re.compile(r"Traceback|File \"|sqlalchemy|psycopg|Exception\b|\bat 0x[0-9a-f]+", re.IGNORECASE)


def _finally(request: pytest.FixtureRequest, cleanup: Callable[[], object]) -> None:
    """Undo what a step made when the scenario ends, passed or failed."""
    request.addfinalizer(cleanup)


def _sql(world: World) -> psycopg.Connection[tuple[Any, ...]]:
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: the database items read the stage's database")
    return psycopg.connect(world.target.database_url, autocommit=True)


# --- code quality -----------------------------------------------------------------------------------


@when("the JUnit report of the release run's project tests is read")
def read_project_test_report(world: World) -> None:
    report = world.target.run_dir / "junit.xml"
    if not report.exists():
        pytest.skip(f"no {report}: the pytest gate did not run in this release run, so there is no result to read")
    world.facts["junit"] = junit_counts(report)


@then("the report lists project tests and none of them failed or errored")
def project_tests_all_passed(world: World) -> None:
    counts = world.facts["junit"]
    assert counts.tests > 0, "the JUnit report lists no tests: nothing was proved"
    assert (counts.failures, counts.errors) == (0, 0), f"the project tests did not all pass: {counts.summary()}"


def _run_tool(world: World, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this Python, a fixed tool
        [sys.executable, "-m", *arguments],
        cwd=world.target.project_root,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


_TOOLS = {"mypy": ("mypy",), "ruff": ("ruff", "check", ".")}
_NO_PRINT = ("ruff", "check", "--no-cache", "--select", "T20")


@when(parsers.parse('the quality tool "{tool}" checks the checkout'))
def run_quality_tool(world: World, tool: str) -> None:
    world.facts["tool"] = (tool, _run_tool(world, *_TOOLS[tool]))


@then("the quality tool reports no problems")
def quality_tool_is_clean(world: World) -> None:
    tool, run = world.facts["tool"]
    output = (run.stdout + run.stderr).strip()
    assert run.returncode == 0, f"{tool} exited {run.returncode}:\n{output[-3000:]}"


@when("the no-print rule checks a scratch module that calls print()")
def no_print_rule_on_scratch(world: World, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch_module.py"
    scratch.write_text('def handler() -> None:\n    print("debugging")\n')
    world.facts["tool"] = ("ruff T20", _run_tool(world, *_NO_PRINT, str(scratch)))


@then("the no-print rule reports the print call")
def no_print_rule_found_it(world: World) -> None:
    _, run = world.facts["tool"]
    assert run.returncode != 0, f"the no-print rule passed a module that calls print():\n{run.stdout}"
    assert "T201" in run.stdout, f"the no-print rule failed, but not on the print() call:\n{run.stdout}"


@when("the no-print rule checks the service and the provider sandbox")
def no_print_rule_on_code(world: World) -> None:
    run = _run_tool(world, *_NO_PRINT, "src/integration_service", "src/provider_sandbox")
    world.facts["tool"] = ("ruff T20", run)


@when(parsers.re(r'"(?P<name>[^"]+)" sends (?P<method>[A-Z]+) (?P<path>\S+) with the raw body (?P<body>.+)$'))
def send_raw_body(world: World, name: str, method: str, path: str, body: str) -> None:
    random_id = str(uuid.uuid4())
    path, body = path.replace("{random-id}", random_id), body.replace("{random-id}", random_id)
    content = None if body == "none" else body.encode()
    headers = {} if content is None else {"Content-Type": "application/json"}
    world.response = world.user(name).client.request(method, path, content=content, headers=headers)


@then(parsers.parse("the answer is the service's error model with status {status:d} and no internals"))
def answer_is_error_model(world: World, status: int) -> None:
    response = world.last_response()
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    assert response.headers.get("content-type", "").startswith("application/json"), describe(response)
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"not the error model: {describe(response)}"
    assert error_code(response), f"the error has no code: {describe(response)}"
    assert str(error.get("message") or "").strip(), f"the error has no message: {describe(response)}"
    leaked = INTERNALS.search(response.text)
    assert leaked is None, f"the answer shows internals ({leaked.group(0) if leaked else ''}): {describe(response)}"


@given(parsers.parse('"{name}" has connected a Xero organisation for the error handling check'))
def connect_xero_for_errors(world: World, name: str) -> None:
    user = world.user(name)
    world.integrations["errors"] = connect_account(
        world, user, "xero", integrationName=f"errors-{uuid.uuid4().hex[:6]}"
    )


def _add_fault(world: World, request: pytest.FixtureRequest, rule: dict[str, Any]) -> None:
    control = world.sandbox()
    added = control.post("/faults", json=rule)
    assert added.status_code in (200, 201), f"the sandbox refused the fault rule: {describe(added)}"
    # A rule left behind would break the scenarios that run after this one.
    rule_url = f"{world.target.sandbox_url}/_sandbox/faults/{added.json()['id']}"
    _finally(request, lambda: httpx.delete(rule_url, timeout=30))


@given(parsers.parse('the provider sandbox fails every Xero "{path}" call with HTTP {status:d}'))
def xero_path_fails(world: World, request: pytest.FixtureRequest, path: str, status: int) -> None:
    _add_fault(world, request, {"provider": "xero", "kind": "error", "path": path, "status": status, "times": None})


@when(parsers.parse('"{name}" tests the connection of that Xero integration'))
def test_xero_connection(world: World, name: str) -> None:
    integration_id = world.integrations["errors"]["id"]
    world.response = world.user(name).client.post(f"/api/integrations/{integration_id}/test")


@then("the error names the provider's failure")
def error_names_provider_failure(world: World) -> None:
    response = world.last_response()
    message = response.json()["error"]["message"]
    assert "500" in message or "xero" in message.casefold(), f"the error does not say what failed: {message!r}"


@when("the secrets scan searches a scratch repository holding a planted Stripe live key")
def scan_planted_secret(world: World, tmp_path: Path) -> None:
    planted = "sk_" + "live_" + "51Mz8XyQabcDEFghiJKLmnoPQRstuVw"  # built here, so no file holds it
    (tmp_path / "config.py").write_text(f'STRIPE_KEY = "{planted}"\n')
    world.facts["secrets"] = scan_files(tmp_path, ["config.py"])


@then("the secrets scan reports the planted key")
def planted_secret_reported(world: World) -> None:
    found = [str(finding) for finding in world.facts["secrets"]]
    assert found == ["config.py:1: stripe-live-key"], f"the scan missed a planted Stripe live key: {found}"


@when("the secrets scan searches every file git tracks in the checkout")
def scan_checkout(world: World) -> None:
    world.facts["secrets"] = scan_repository(world.target.project_root)


@then("the secrets scan reports nothing")
def no_secrets_found(world: World) -> None:
    found = [str(finding) for finding in world.facts["secrets"]]
    assert not found, "hard-coded secrets (remove them, or allow a deliberate fixture): " + "; ".join(found)


# --- database ---------------------------------------------------------------------------------------


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
    _finally(request, lambda: drop_database(server, name))
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
    with _sql(world) as connection, connection.transaction():
        # Local to this transaction: the planner then takes any usable index over a table scan, so a
        # missing index shows as a Seq Scan whatever the table's size on this stage.
        connection.execute("SET LOCAL enable_seqscan = off")
        plan = connection.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchone()
        assert plan is not None
        world.facts["plan"] = plan[0][0]["Plan"]
        names = {node["Index Name"] for node in _plan_nodes(world.facts["plan"]) if "Index Name" in node}
        world.facts["indexes"] = {name: _index_of(connection, name) for name in names}


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


@then(parsers.parse("the plan reads {table} through an index led by one of: {columns}"))
def plan_uses_index(world: World, table: str, columns: str) -> None:
    wanted = {column.strip() for column in columns.split(",")}
    # A bitmap scan names the table on its heap node and the index on a child node: indexes are
    # matched to the table through the catalogue, not through the plan's shape.
    used = {name: column for name, (owner, column) in world.facts["indexes"].items() if owner == table}
    scans = [node["Node Type"] for node in _plan_nodes(world.facts["plan"]) if node.get("Relation Name") == table]
    assert scans or used, f"the plan does not read {table}: {json.dumps(world.facts['plan'])[:1500]}"
    assert any(column in wanted for column in used.values()), (
        f"{table} is read by {', '.join(scans)} with indexes {used or 'none'}; "
        f"expected an index led by {sorted(wanted)}"
    )


_REFERENCES = {"user_id": "users", "integration_id": "integrations_credentials"}


@when("the columns and constraints of the stage database are read")
def read_constraints(world: World) -> None:
    with _sql(world) as connection:
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
    with _sql(world) as connection:
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
    with _sql(world) as connection:
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
    _finally(request, lambda: user.client.delete(f"/api/integrations/{integration_id}"))
    with _sql(world) as connection:
        row = connection.execute("SELECT id FROM users WHERE name = %s", [user.account]).fetchone()
    assert row is not None, "the scenario's user is not in the users table"
    world.facts["user_ids"] = {name: str(row[0])}


@when("the checklist's database testing queries run verbatim on the stage database")
def run_database_testing_queries(world: World) -> None:
    results: dict[str, Any] = {}
    with _sql(world) as connection:
        for query in _TABLE_CHECKS:  # counted, not fetched: production tables are not for printing
            counted = f"SELECT count(*) FROM ({query.rstrip(';')}) AS checked"  # noqa: S608 - the checklist's own SQL
            row = connection.execute(counted).fetchone()
            results[query] = None if row is None else row[0]
        world.facts["table_checks"] = results
        world.facts["lookup_plans"] = {
            name: [str(line[0]) for line in connection.execute(_CREDENTIALS_LOOKUP.replace("xxx", user_id)).fetchall()]
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


# --- environment variables ---------------------------------------------------------------------------

# Asked of the checkout in a child process: `steps/` never imports the service.
_SETTINGS_DRIVER = """
import json, sys, typing
from pydantic import SecretStr
from integration_service.settings import Settings

def secret(annotation):
    return annotation is SecretStr or any(secret(argument) for argument in typing.get_args(annotation))

if sys.argv[1] == "fields":
    prefix = str(Settings.model_config.get("env_prefix", ""))
    fields = {(prefix + name).upper(): secret(f.annotation) for name, f in Settings.model_fields.items()}
    print(json.dumps(fields))
else:
    try:
        settings = Settings(_env_file=None)
    except Exception as exc:
        print(json.dumps({"refused": str(exc)}))
    else:
        print(json.dumps({"refused": None}))
"""
_ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
_DEVELOPMENT_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcmVhbC11c2U="  # the public key the example file documents
# What a staging or production deployment needs beyond what the service refuses to start without:
# the database, the OAuth apps of the accounting providers, the payment webhooks' secrets, and the
# address the harness reaches it at.
REQUIRED_OUTSIDE_LOCAL = (
    "DATABASE_URL",
    "ENCRYPTION_KEYS",
    "PUBLIC_URL",
    "CORS_ALLOWED_ORIGINS",
    "SERVICE_URL",
    "XERO_CLIENT_ID",
    "XERO_CLIENT_SECRET",
    "MYOB_CLIENT_ID",
    "MYOB_CLIENT_SECRET",
    "QUICKBOOKS_CLIENT_ID",
    "QUICKBOOKS_CLIENT_SECRET",
    "STRIPE_WEBHOOK_SECRETS",
    "PAYPAL_WEBHOOK_ID",
)


def _settings_driver(world: World, *arguments: str, env: Mapping[str, str] | None = None) -> Any:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(world.target.project_root / "src")}
    with tempfile.TemporaryDirectory() as empty:  # no `.env` in the working directory can speak
        run = subprocess.run(  # noqa: S603 - this Python, a fixed program
            [sys.executable, "-c", _SETTINGS_DRIVER, *arguments],
            env={**base, **(env or {})},
            cwd=empty,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 0, f"could not read the checkout's settings: {run.stderr[-1500:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def _example_file(world: World) -> dict[str, tuple[str, bool]]:
    """Each variable .env.example documents: its value, and whether the comment block above says SENSITIVE."""
    found: dict[str, tuple[str, bool]] = {}
    block: list[str] = []
    for line in (world.target.project_root / ".env.example").read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            found[match.group(1)] = (match.group(2).strip(), any("SENSITIVE" in comment for comment in block))
            block = []
        elif line.startswith("#"):
            block.append(line)
        else:
            block = []
    return found


def _declared_settings(world: World) -> dict[str, bool]:
    """Every variable a stage reads (the service's settings and the harness's own), and whether it is secret."""
    service: dict[str, bool] = _settings_driver(world, "fields")
    operations = {name.upper(): _is_secret_field(field.annotation) for name, field in OpsSettings.model_fields.items()}
    return {**{name: secret for name, secret in operations.items() if name not in service}, **service}


def _is_secret_field(annotation: object) -> bool:
    return "SecretStr" in repr(annotation)


@when("the settings of the checkout's service are listed")
def list_declared_settings(world: World) -> None:
    world.facts["declared"] = _declared_settings(world)
    world.facts["documented"] = _example_file(world)


@then("every setting is documented in the example env file")
def every_setting_documented(world: World) -> None:
    missing = sorted(set(world.facts["declared"]) - set(world.facts["documented"]))
    assert not missing, f"settings missing from .env.example: {', '.join(missing)}"


@then("the example env file documents no setting that nothing reads")
def nothing_stray_documented(world: World) -> None:
    stray = sorted(set(world.facts["documented"]) - set(world.facts["declared"]))
    assert not stray, f".env.example documents variables no setting reads: {', '.join(stray)}"


@then("every secret setting is marked SENSITIVE in the example env file")
def secrets_marked(world: World) -> None:
    documented = world.facts["documented"]
    secrets = [name for name, secret in world.facts["declared"].items() if secret]
    unmarked = sorted(name for name in secrets if not documented.get(name, ("", False))[1])
    assert secrets, "the checkout's settings declare no secret: the settings were not read"
    assert not unmarked, f"mark these '# SENSITIVE' in .env.example: {', '.join(unmarked)}"


@then(parsers.re(r"the settings marked SENSITIVE include (?P<names>.+)$"))
def marked_include(world: World, names: str) -> None:
    marked = {name for name, (_, sensitive) in world.facts["documented"].items() if sensitive}
    wanted = re.findall(r'"([A-Z_]+)"', names)
    assert set(wanted) <= marked, f"not marked SENSITIVE: {sorted(set(wanted) - marked)}"


@then("every secret in the example env file is empty or the public development key")
def example_secrets_are_placeholders(world: World) -> None:
    documented = _example_file(world)
    declared = _declared_settings(world)
    real = [
        name
        for name, (value, _) in documented.items()
        if declared.get(name) and value not in ("", _DEVELOPMENT_KEY) and not _local_address(value)
    ]
    assert not real, f".env.example holds values for secrets (keep them empty there): {', '.join(real)}"


def _local_address(value: str) -> bool:
    """A URL of a server on this machine with no password in it: an example, not a credential."""
    url = httpx.URL(value) if "://" in value else None
    return url is not None and url.host in ("127.0.0.1", "localhost") and not url.password


def _settings_problems(world: World, stage: str, values: Mapping[str, str]) -> list[str]:
    """What keeps `values` from being a deployable `stage`: missing settings, and the service's own refusal."""
    required = list(REQUIRED_OUTSIDE_LOCAL)
    if values.get("MAUTIC_BASE_URL"):
        required += ["MAUTIC_CLIENT_ID", "MAUTIC_CLIENT_SECRET"]
    problems = [f"{name} is not set" for name in required if not values.get(name, "").strip()]
    if stage == "production" and values.get("PAYPAL_MODE", "sandbox") != "live":
        problems.append("PAYPAL_MODE must be live in production")
    service_env = {name: value for name, value in values.items() if name != "STAGE"}
    refused = _settings_driver(world, "validate", env={**service_env, "STAGE": stage})["refused"]
    if refused:
        problems.append(f"the service refuses them: {refused}")
    return problems


def _complete_settings(world: World, stage: str) -> dict[str, str]:
    host = "crm.example.com"
    values = {
        "DATABASE_URL": world.target.database_url or "postgresql://qa@db.example:5432/integrations",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_URL": f"https://{host}",
        "CORS_ALLOWED_ORIGINS": f"https://app.{host}",
        "SERVICE_URL": f"https://{host}",
        "STRIPE_WEBHOOK_SECRETS": "whsec_" + uuid.uuid4().hex,
        "PAYPAL_WEBHOOK_ID": uuid.uuid4().hex[:17].upper(),
        "PAYPAL_MODE": "live" if stage == "production" else "sandbox",
    }
    for provider in ("XERO", "MYOB", "QUICKBOOKS"):
        values[f"{provider}_CLIENT_ID"] = f"qa-{provider.lower()}-client"
        values[f"{provider}_CLIENT_SECRET"] = uuid.uuid4().hex
    return values


@given(parsers.parse('a complete set of "{stage}" settings'))
def complete_settings(world: World, stage: str) -> None:
    world.facts["stage_settings"] = (stage, _complete_settings(world, stage))


@when(parsers.parse('the settings of the "{stage}" stage are read from its environment and its env file'))
def read_stage_settings(world: World, stage: str) -> None:
    env_file = stage_env_file(parse_stage(stage), world.target.project_root)
    from_file = {k: v or "" for k, v in dotenv_values(env_file).items()} if env_file.exists() else {}
    names = set(_declared_settings(world)) | set(from_file)
    values = {**from_file, **{name: os.environ[name] for name in names if name in os.environ}}
    world.facts["stage_settings"] = (stage, values)


@then(parsers.parse('the settings check accepts them for "{stage}"'))
def settings_check_accepts(world: World, stage: str) -> None:
    problems = _settings_problems(world, stage, world.facts["stage_settings"][1])
    assert not problems, f"the {stage} settings are not complete: " + "; ".join(problems)


@then(parsers.parse('the settings check refuses the example env file\'s values for "{stage}"'))
def example_refused(world: World, stage: str) -> None:
    values = {name: value for name, (value, _) in _example_file(world).items()}
    problems = _settings_problems(world, stage, values)
    assert any("development key" in problem for problem in problems), (
        f"the example file's values were not refused for {stage}: {problems}"
    )


@when(parsers.re(r'"(?P<first>[A-Z_]+)" and "(?P<second>[A-Z_]+)" are left out of them$'))
def leave_out_settings(world: World, first: str, second: str) -> None:
    stage, values = world.facts["stage_settings"]
    world.facts["stage_settings"] = (stage, {k: v for k, v in values.items() if k not in (first, second)})


@when(parsers.parse('"{name}" is set to "{value}" in them'))
def set_setting(world: World, name: str, value: str) -> None:
    stage, values = world.facts["stage_settings"]
    world.facts["stage_settings"] = (stage, {**values, name: value})


@then(
    parsers.re(r'the settings check refuses them for "(?P<stage>\w+)", naming "(?P<first>\w+)" and "(?P<second>\w+)"$')
)
def settings_check_refuses(world: World, stage: str, first: str, second: str) -> None:
    problems = "; ".join(_settings_problems(world, stage, world.facts["stage_settings"][1]))
    assert problems, f"an incomplete set of {stage} settings was accepted"
    for name in (first, second):
        assert name in problems, f"the refusal does not name {name}: {problems}"


def _start_service(world: World, request: pytest.FixtureRequest, env: Mapping[str, str]) -> ServerProcess:
    database_url = world.target.database_url
    if database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: a service instance needs the stage's database")
    process = service_process(database_url, world.target.run_dir / "pre-deployment-services", env=dict(env))
    _finally(request, process.stop)
    return process.start(timeout_s=60)


@then(parsers.parse('the service starts with them as "{stage}"'))
def service_starts(world: World, request: pytest.FixtureRequest, stage: str) -> None:
    values = {k: v for k, v in world.facts["stage_settings"][1].items() if k != "DATABASE_URL"}
    process = _start_service(world, request, {**values, "STAGE": stage})
    health = world.client(base_url=process.url).get("/api/health")
    assert health.status_code == 200, f"the service started as {stage} is not healthy: {describe(health)}"
    process.stop()


@when(parsers.parse('the service is started as "{stage}" with these unsafe values:'))
def start_service_unsafe(world: World, request: pytest.FixtureRequest, stage: str, datatable: list[list[str]]) -> None:
    values = {k: v for k, v in world.facts["stage_settings"][1].items() if k != "DATABASE_URL"}
    unsafe = {setting: value for setting, value, _ in datatable[1:]}
    world.facts["expected_refusals"] = [refusal for _, _, refusal in datatable[1:]]
    world.facts["refusal"] = None
    # One start with every unsafe value: the service names all of its problems at once.
    try:
        _start_service(world, request, {**values, "STAGE": stage, **unsafe})
    except ServerStartError as exc:
        world.facts["refusal"] = str(exc)


@then("the service refuses to start, giving every refusal of the table")
def service_refused(world: World) -> None:
    refusal = world.facts["refusal"]
    assert refusal is not None, "the service started with unsafe settings"
    missing = [message for message in world.facts["expected_refusals"] if message not in refusal]
    assert not missing, f"the service refused, but did not say {missing}:\n{refusal[-1500:]}"


@when("the timeout settings of the stage are read")
def read_timeout_settings(world: World) -> None:
    documented = {name: value for name, (value, _) in _example_file(world).items()}
    if world.target.stage == "local":
        world.facts["timeouts"] = documented  # the local stage runs the documented defaults
        return
    read_stage_settings(world, world.target.stage)
    world.facts["timeouts"] = {**documented, **world.facts["stage_settings"][1]}


@then("every timeout setting is set and within its bound")
def timeouts_bounded(world: World, datatable: list[list[str]]) -> None:
    values = world.facts["timeouts"]
    for name, bound in datatable[1:]:
        raw = values.get(name, "")
        assert raw, f"{name} is not set"
        assert 0 < float(raw) <= float(bound), f"{name}={raw}: expected more than 0 and at most {bound} seconds"


# --- documentation -----------------------------------------------------------------------------------

_DOC_ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) `?(/api/[^\s`?\[\]()|,]*)")
_HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _doc(world: World, name: str) -> str:
    return (world.target.project_root / name).read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """`## ` headings of a Markdown file and their text (up to the next `## `)."""
    parts = re.split(r"^## +(.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _provider_section(world: World, provider: str) -> str | None:
    key = provider.replace(" ", "").casefold()
    for heading, body in _sections(_doc(world, "INTEGRATIONS.md")).items():
        if heading.replace(" ", "").casefold().startswith(key):
            return body
    return None


@given("the API schema of the stage's service")
def api_schema(world: World) -> None:
    response = world.client().get("/openapi.json")
    assert response.status_code == 200, f"the service publishes no API schema: {describe(response)}"
    schema = response.json()
    world.facts["schema"] = schema
    world.facts["providers"] = schema["components"]["schemas"]["IntegrationType"]["enum"]
    world.facts["operations"] = [
        (method.upper(), path) for path, item in schema["paths"].items() for method in item if method in _HTTP_METHODS
    ]


@then("README.md names every integration type of the API schema")
def readme_names_providers(world: World) -> None:
    readme = _doc(world, "README.md").casefold()
    missing = [provider for provider in world.facts["providers"] if provider.casefold() not in readme]
    assert not missing, f"README.md does not mention these providers the service offers: {', '.join(missing)}"


@then("INTEGRATIONS.md has a section for every integration type of the API schema")
def integrations_sections(world: World) -> None:
    missing = [provider for provider in world.facts["providers"] if _provider_section(world, provider) is None]
    assert not missing, f"INTEGRATIONS.md has no `## ` section for: {', '.join(missing)}"


@then("every provider section of INTEGRATIONS.md says how to connect and what is synced or done")
def provider_sections_complete(world: World) -> None:
    gaps = []
    for provider in world.facts["providers"]:
        body = _provider_section(world, provider) or ""
        if not re.search(r"\*\*(Connect|Register|Create the key)", body) or "/api/integrations" not in body:
            gaps.append(f"{provider}: how to connect")
        if not re.search(r"\*\*(Synced|Act|Actions)", body):
            gaps.append(f"{provider}: what is synced or done")
    assert not gaps, "INTEGRATIONS.md sections lack: " + "; ".join(gaps)


def _segments_match(documented: str, actual: str, providers: set[str]) -> bool:
    """A documented route names an actual one: same segments, where a placeholder (`{id}`, `<name>`)
    matches another placeholder or a provider's name (`{provider}/connect` documents `xero/connect`)."""
    left, right = documented.rstrip("/").split("/"), actual.rstrip("/").split("/")
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        a_free, b_free = a.startswith(("{", "<")), b.startswith(("{", "<"))
        if a == b or (a_free and b_free) or (a_free and b in providers) or (b_free and a in providers):
            continue
        return False
    return True


def _documented_routes(world: World) -> list[tuple[str, str]]:
    text = _doc(world, "INTEGRATIONS.md") + "\n" + _doc(world, "README.md")
    return sorted(set(_DOC_ROUTE.findall(text)))


@then("every route named in INTEGRATIONS.md or README.md exists in the API schema")
def no_stale_routes(world: World) -> None:
    providers = {provider.casefold() for provider in world.facts["providers"]}
    # Only the service's own namespaces (`/api/health`, `/api/integrations`): the docs also quote the
    # providers' APIs (`GET /api/current-user` is BillionMail's), which are not the service's routes.
    namespaces = {"/".join(path.split("/")[:3]) for _, path in world.facts["operations"]}
    stale = [
        f"{method} {path}"
        for method, path in _documented_routes(world)
        if "/".join(path.split("/")[:3]) in namespaces
        and not any(m == method and _segments_match(path, p, providers) for m, p in world.facts["operations"])
    ]
    assert not stale, f"the docs name routes the service does not have: {', '.join(stale)}"


@then("every operation of the API schema is documented with its method and path")
def every_operation_documented(world: World) -> None:
    providers = {provider.casefold() for provider in world.facts["providers"]}
    documented = _documented_routes(world)
    missing = [
        f"{method} {path}"
        for method, path in world.facts["operations"]
        if not any(m == method and _segments_match(p, path, providers) for m, p in documented)
    ]
    assert not missing, f"undocumented routes (name them as `METHOD /path` in INTEGRATIONS.md): {', '.join(missing)}"


@then(parsers.parse('the "{provider}" section of INTEGRATIONS.md tells how to register the webhook at "{route}"'))
def webhook_setup_documented(world: World, provider: str, route: str) -> None:
    body = _provider_section(world, provider)
    assert body is not None, f"INTEGRATIONS.md has no {provider} section"
    assert "**Register the webhook**" in body, f"the {provider} section has no 'Register the webhook' part"
    setup = body.split("**Register the webhook**", 1)[1].split("\n\n", 1)[0]
    assert f"{{PUBLIC_URL}}{route}" in setup, f"the webhook setup does not give the URL {{PUBLIC_URL}}{route}"
    world.facts["webhook_setup"] = setup


@then(parsers.parse('it names the setting "{setting}" and every event the checklist lists: {events}'))
def webhook_setting_and_events(world: World, setting: str, events: str) -> None:
    setup = world.facts["webhook_setup"]
    assert setting in setup, f"the webhook setup does not say to put the secret in {setting}"
    listed = re.sub(r"`", "", setup)
    # PayPal's list abbreviates the family after its first member: `BILLING.SUBSCRIPTION.CREATED`, `.CANCELLED`.
    missing = [
        event
        for event in (e.strip() for e in events.split(","))
        if event not in listed and "." + event.rsplit(".", 1)[-1] not in listed
    ]
    assert not missing, f"the webhook setup does not list these events: {', '.join(missing)}"


@then(parsers.parse('"{route}" is a POST route of the API schema'))
def webhook_route_exists(world: World, route: str) -> None:
    assert ("POST", route) in world.facts["operations"], f"the service has no POST {route}"


@then(
    parsers.parse(
        "every provider section of INTEGRATIONS.md has a troubleshooting table of at least {rows:d} symptoms "
        "with their causes and fixes"
    )
)
def troubleshooting_tables(world: World, rows: int) -> None:
    short = []
    for provider in world.facts["providers"]:
        body = _provider_section(world, provider) or ""
        table = body.split("| Symptom | Cause | Fix |", 1)
        entries = [line for line in table[1].splitlines()[2:] if line.startswith("|")] if len(table) == 2 else []
        if len(entries) < rows:
            short.append(f"{provider} ({len(entries)})")
    assert not short, f"troubleshooting tables (| Symptom | Cause | Fix |) with fewer than {rows} rows: {short}"


_GUIDE_HEADING = "Adding an eighth integration"
_GUIDE_STEPS = {
    "provider module": r"src/integration_service/providers/",
    "sandbox simulator": r"src/provider_sandbox/",
    "tables and migration": r"db/migrations/versions/|alembic",
    "routes": r"src/integration_service/api/",
    "scenarios": r"features/.*\.feature|steps/",
    "documentation": r"INTEGRATIONS\.md",
}


@then("INTEGRATIONS.md has a development guide for adding an integration")
def guide_exists(world: World) -> None:
    sections = _sections(_doc(world, "INTEGRATIONS.md"))
    guide = next((body for heading, body in sections.items() if heading.startswith(_GUIDE_HEADING)), None)
    assert guide is not None, f"INTEGRATIONS.md has no '## {_GUIDE_HEADING}' section"
    world.facts["guide"] = guide


@then(parsers.re(r"the guide has a step for each of: (?P<steps>.+)$"))
def guide_steps(world: World, steps: str) -> None:
    numbered = re.split(r"^### ", world.facts["guide"], flags=re.MULTILINE)[1:]
    missing = []
    for step in (s.strip() for s in steps.split(",")):
        pattern = re.compile(_GUIDE_STEPS[step])
        if not any(pattern.search(part) and step.split()[0] in part.split("\n", 1)[0].casefold() for part in numbered):
            missing.append(step)
    assert not missing, f"the guide has no `### ` step that covers: {', '.join(missing)}"


@then("every file or folder of the project that the guide names exists in the checkout")
def guide_paths_exist(world: World) -> None:
    root = world.target.project_root
    named = set(re.findall(r"`((?:src|steps|features|tests|load|contract|fixtures)/[^`\s]*)`", world.facts["guide"]))
    named |= set(re.findall(r"`([A-Za-z_]+\.(?:md|py|toml|ini))`", world.facts["guide"]))
    # `<name>` marks a file the reader creates; everything else must be there to be read or edited.
    missing = sorted(path for path in named if "<" not in path and not (root / path).exists())
    assert len(named) >= 10, f"the guide names only {len(named)} files: it should point at the real ones"
    assert not missing, f"the guide names files that do not exist: {', '.join(missing)}"


# --- performance -------------------------------------------------------------------------------------

_XERO_PAGE_SIZE = 100


@given(parsers.parse('a Xero organisation "{label}" with {invoices:d} invoices in the provider sandbox'))
def sandbox_xero_organisation(world: World, label: str, invoices: int) -> None:
    created = world.sandbox().post(
        "/tenants",
        json={"provider": "xero", "invoices": invoices, "contacts": 5, "name": f"QA {label} {uuid.uuid4().hex[:6]}"},
    )
    assert created.status_code == 201, f"the sandbox made no organisation: {describe(created)}"
    world.facts.setdefault("organisations", {})[label] = created.json()


@given(parsers.parse('"{name}" has connected the Xero organisation "{label}"'))
def connect_xero_organisation(world: World, name: str, label: str) -> None:
    tenant = world.facts["organisations"][label]["tenant_id"]
    integration = connect_account(world, world.user(name), "xero", tenant=tenant, integrationName=f"perf-{label}")
    assert integration["customData"].get("tenantId") == tenant, f"connected another organisation: {integration}"
    world.integrations[label] = integration


def _sync(world: World, name: str, label: str, client: httpx.Client | None = None) -> None:
    integration_id = world.integrations[label]["id"]
    started = time.monotonic()
    response = (client or world.user(name).client).post(
        "/api/integrations/sync",
        json={"integrationId": integration_id, "dataType": "invoices", "fullResync": True},
        timeout=SYNC_TIMEOUT_S,
    )
    world.facts.setdefault("syncs", {})[label] = (response, time.monotonic() - started)


def _listing_requests(world: World) -> list[dict[str, Any]]:
    listed = world.sandbox().get("/requests", params={"provider": "xero", "path_contains": "/Invoices"})
    assert listed.status_code == 200, describe(listed)
    return list(listed.json())


@when(parsers.parse('"{name}" syncs the invoices of the Xero organisation "{label}"'))
def sync_organisation(world: World, name: str, label: str) -> None:
    world.facts.setdefault("since", {})[label] = max((r["seq"] for r in _listing_requests(world)), default=0)
    _sync(world, name, label)


def _sync_result(world: World, label: str) -> dict[str, Any]:
    response, _ = world.facts["syncs"][label]
    body = response.json()
    assert "result" in body, f"the sync answered no result: {describe(response)}"
    return dict(body["result"])


@then(parsers.parse('the sync of "{label}" succeeds with {count:d} invoices synced'))
def sync_succeeded(world: World, label: str, count: int) -> None:
    response, _ = world.facts["syncs"][label]
    assert response.status_code == 200, f"the sync failed: {describe(response)}"
    result = _sync_result(world, label)
    assert (result["status"], result["syncedRecords"], result["failedRecords"]) == ("success", count, 0), result


@then(parsers.parse('{count:d} distinct invoices of "{label}" are stored for "{name}"'))
def invoices_stored(world: World, count: int, label: str, name: str) -> None:
    with _sql(world) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [world.integrations[label]["id"]],
        ).fetchone()
    assert row == (count, count), f"expected {count} invoices stored once each, found (rows, distinct) = {row}"


def _tenant_requests(world: World, label: str) -> list[dict[str, Any]]:
    tenant = world.facts["organisations"][label]["tenant_id"]
    since = world.facts.get("since", {}).get(label, 0)
    return [
        request
        for request in _listing_requests(world)
        if request["seq"] > since and tenant in json.dumps(request.get("headers", {}))
    ]


def _page_of(request: dict[str, Any]) -> int:
    query = request.get("query") or {}
    page = query.get("page") if isinstance(query, dict) else re.search(r"page=(\d+)", str(query))
    value = page.group(1) if isinstance(page, re.Match) else page
    return int(value[0] if isinstance(value, list) else value or 1)


@then(parsers.parse('the provider sandbox served the invoices of "{label}" in {pages:d} pages'))
def served_in_pages(world: World, label: str, pages: int) -> None:
    served = sorted({_page_of(r) for r in _tenant_requests(world, label) if r["status"] == 200})
    assert served == list(range(1, pages + 1)), f"expected pages 1..{pages} to be read, the sandbox served {served}"


@then(
    parsers.parse(
        'the sync of "{large}" issued at most {per_page:d} more SQL statements per extra page '
        'than the sync of "{small}"'
    )
)
def statements_grow_with_pages(world: World, large: str, per_page: int, small: str) -> None:
    big, little = _sync_result(world, large), _sync_result(world, small)
    extra_pages = -(-big["syncedRecords"] // _XERO_PAGE_SIZE) - -(-little["syncedRecords"] // _XERO_PAGE_SIZE)
    growth = big["sqlStatements"] - little["sqlStatements"]
    assert extra_pages > 0, "the two organisations need different numbers of pages for this comparison"
    assert growth <= per_page * extra_pages, (
        f"{extra_pages} more pages cost {growth} more SQL statements ({little['sqlStatements']} → "
        f"{big['sqlStatements']}): statements grow with the records, not the pages"
    )


@then(parsers.parse('the sync of "{label}" issued fewer SQL statements than one per {records:d} invoices'))
def statements_below_records(world: World, label: str, records: int) -> None:
    result = _sync_result(world, label)
    assert 0 < result["sqlStatements"] < result["syncedRecords"] / records, (
        f"{result['sqlStatements']} SQL statements for {result['syncedRecords']} invoices: an N+1 pattern"
    )


@given(parsers.parse("a second service instance whose provider read timeout is {seconds:d} second"))
def second_service_instance(world: World, request: pytest.FixtureRequest, seconds: int) -> None:
    if world.target.sandbox_url is None:
        pytest.fail("this scenario needs the provider sandbox, which only the local stage has")
    settings = {
        **sandbox_service_env(world.target.sandbox_url),
        "HTTP_READ_TIMEOUT_S": str(seconds),
        "HTTP_RETRY_ATTEMPTS": "3",
        "HTTP_RETRY_INITIAL_WAIT_S": "0.05",
        "HTTP_RETRY_BACKOFF_MAX_S": "0.5",
    }
    world.facts["instance"] = _start_service(world, request, settings)


@given(parsers.parse("the provider sandbox holds every Xero invoices request for {seconds:d} seconds"))
def hold_invoices(world: World, request: pytest.FixtureRequest, seconds: int) -> None:
    rule = {"provider": "xero", "kind": "delay", "path": "/Invoices", "delay_ms": seconds * 1000, "times": None}
    _add_fault(world, request, rule)


@when(
    parsers.parse('"{name}" syncs the invoices of the Xero organisation "{label}" through the second service instance')
)
def sync_through_instance(world: World, name: str, label: str) -> None:
    instance: ServerProcess = world.facts["instance"]
    client = world.client(base_url=instance.url, headers={"Authorization": f"Bearer {world.user(name).token}"})
    _sync(world, name, label, client)


@then(parsers.parse('the sync of "{label}" fails with status {status:d} within {seconds:d} seconds'))
def sync_failed_in_time(world: World, label: str, status: int, seconds: int) -> None:
    response, took = world.facts["syncs"][label]
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    assert took <= seconds, f"the sync took {took:.1f} s to give up (bound {seconds} s)"


@then(parsers.parse('the sync of "{label}" reports that the provider timed out'))
def sync_reports_timeout(world: World, label: str) -> None:
    result = _sync_result(world, label)
    said = " ".join([result["message"], *result["errors"]])
    assert "Timeout" in said, f"the sync does not say the provider timed out: {said!r}"


@then(parsers.parse('the latest sync log of "{label}" records the failure'))
def sync_log_failure(world: World, label: str) -> None:
    with _sql(world) as connection:
        row = connection.execute(
            "SELECT status, completed_at, error_message FROM integrations_sync_logs WHERE integration_id = %s "
            "ORDER BY created_at DESC LIMIT 1",
            [world.integrations[label]["id"]],
        ).fetchone()
    assert row is not None, "the sync wrote no log"
    status, completed, message = row
    assert (status, completed is not None) == ("failed", True), f"the log says {row}"
    assert message, "the failed sync's log gives no error message"


@given(
    parsers.parse(
        "the provider sandbox answers the next Xero invoices request for page {page:d} "
        "with a rate limit of Retry-After {seconds:d} second"
    )
)
def rate_limit_once(world: World, request: pytest.FixtureRequest, page: int, seconds: int) -> None:
    rule = {"provider": "xero", "kind": "rate_limit", "path": "/Invoices", "page": page, "times": 1}
    _add_fault(world, request, {**rule, "retry_after": seconds})


@given(
    parsers.parse("the provider sandbox answers the next Xero invoices request for page {page:d} with HTTP {status:d}")
)
def error_once(world: World, request: pytest.FixtureRequest, page: int, status: int) -> None:
    rule = {"provider": "xero", "kind": "error", "path": "/Invoices", "page": page, "status": status, "times": 1}
    _add_fault(world, request, rule)


@given(parsers.parse("the provider sandbox answers every Xero invoices request for page {page:d} with HTTP {status:d}"))
def error_always(world: World, request: pytest.FixtureRequest, page: int, status: int) -> None:
    rule = {"provider": "xero", "kind": "error", "path": "/Invoices", "page": page, "status": status, "times": None}
    _add_fault(world, request, rule)


@then(
    parsers.parse(
        'the provider sandbox answered the invoices of "{label}" with 429 once and 503 once, each retried successfully'
    )
)
def retried_successfully(world: World, label: str) -> None:
    requests = _tenant_requests(world, label)
    by_page: dict[int, list[int]] = {}
    for request in requests:
        by_page.setdefault(_page_of(request), []).append(request["status"])
    assert by_page.get(2) == [429, 200], f"page 2 answers, in order: {by_page.get(2)} (expected 429 then 200)"
    assert by_page.get(3) == [503, 200], f"page 3 answers, in order: {by_page.get(3)} (expected 503 then 200)"


@then(parsers.parse('the sync of "{label}" fails with status {status:d} as partial with {count:d} invoices synced'))
def sync_partial(world: World, label: str, status: int, count: int) -> None:
    response, _ = world.facts["syncs"][label]
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    result = _sync_result(world, label)
    assert (result["status"], result["syncedRecords"]) == ("partial", count), result
    assert any("503" in error for error in result["errors"]), f"the errors do not name the 503: {result['errors']}"


@then(
    parsers.parse(
        'the provider sandbox was asked for page {page:d} of "{label}" more than once and at most {most:d} times'
    )
)
def bounded_retries(world: World, page: int, label: str, most: int) -> None:
    asked = [r["status"] for r in _tenant_requests(world, label) if _page_of(r) == page]
    assert 1 < len(asked) <= most, f"page {page} was asked {len(asked)} times ({asked}): expected retries, bounded"


@when("the monitoring endpoint of the stage's service is read")
def read_metrics(world: World) -> None:
    world.response = world.client().get("/metrics")


def _metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, flags=re.MULTILINE)
    return None if found is None else float(found.group(1))


@then("it reports the service process's resident memory")
def metrics_report_memory(world: World) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"no metrics: {describe(response)}"
    resident = _metric(response.text, "process_resident_memory_bytes")
    assert resident is not None, "/metrics does not expose process_resident_memory_bytes"
    assert resident > 10 * 2**20, f"a resident memory of {resident:.0f} bytes is not a running service's"


@then("it reports the database connections in use and the pool's size")
def metrics_report_pool(world: World) -> None:
    text = world.last_response().text
    in_use, size = _metric(text, "integration_db_pool_in_use"), _metric(text, "integration_db_pool_size")
    assert in_use is not None, "/metrics does not expose the connections in use"
    assert size is not None, "/metrics does not expose the pool's size"
    assert size >= 1, f"a pool of {size} connections"
    assert 0 <= in_use <= size, f"pool figures make no sense: {in_use} in use of {size}"
