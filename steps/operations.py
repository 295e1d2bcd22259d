"""Steps of the operational checklist: deployment procedures, monitoring, weekly/monthly checks,
rollback, sign-off, load and benchmarks.

A procedure is proved by running the real harness operation (`harness.ops.*`, what `invoke <task>`
calls) and checking its outcome, not only that it returned. Destructive procedures (migrate, restore,
rollback, deploy) run on scratch databases created on the stage's server from a migrated template,
with their own state and backup folders and, where git is involved, a scratch checkout of the
service: never on the stage's live database or this repository. Everything a scenario creates is
removed when it ends (`OpsLab`). Monitoring and reports run on scratch databases seeded over SQL with
exactly the rows a scenario's tables describe.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import psycopg
import pytest
import redis
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from psycopg import sql
from pytest_bdd import given, parsers, then, when
from rich.console import Console

from harness.database import create_database, drop_database, with_database
from harness.oauth import connect_via_oauth
from harness.ops.backup import Backup, list_backups, verify_by_restoring
from harness.ops.common import OpsError, Target, git_sha, read_records
from harness.ops.deploy import deploy, deploy_log, last_deploy, stop_local
from harness.ops.migrate import MigrationResult, migrate, run_alembic
from harness.ops.monitor import DAILY_CHECKS, RULES, MonitorResult, evaluate
from harness.ops.pgtools import alembic_revision, find_tools, row_counts, table_snapshot
from harness.ops.release import release
from harness.ops.reports import build_report
from harness.ops.restore import restore
from harness.ops.rollback import rollback
from harness.ops.signoff import (
    ATTESTATION_IDS,
    missing_signoffs,
    read_signoffs,
    record_signoff,
    recorded_attestations,
)
from harness.ops.smoke import SmokeResult, smoke
from harness.paths import PROJECT_ROOT
from harness.processes import free_port
from harness.scenario_target import ScenarioTarget
from harness.scenarios import LOCAL_SERVICE_ENV
from harness.stack import sandbox_service_env
from harness.stages import parse_stage
from harness.tls import client_verify
from harness.tokens import issue_token_on
from load import thresholds
from steps.common import World, connect_account, describe

MIGRATIONS_DIR = PROJECT_ROOT / "src" / "integration_service" / "db" / "migrations"
SQL = psycopg.Connection[tuple[Any, ...]]
NEVER_SENT = "SANDBOX.NEVER.SENT"  # a PayPal event type no API call emits: only explicit deliveries arrive
# The ordinary audit time bound is for MONTH-05; the other report scenarios are about the SQL sections.
SHORT_AUDIT_S = 0.01


# --- the scenario's lab: scratch databases, folders, services, faults; all removed at the end ----------


class TemplateDatabase:
    """One migrated database per scenario run; each scratch database is a fast copy of it."""

    def __init__(self, server_url: str | None) -> None:
        self.server_url = server_url
        self.name: str | None = None

    def get(self) -> str:
        if self.server_url is None:
            pytest.fail("QA_DATABASE_URL is not set: operational scenarios make scratch databases on its server")
        if self.name is None:
            name = f"ops_template_{uuid.uuid4().hex[:10]}"
            url = create_database(self.server_url, name)
            run_alembic(Target(stage="local", database_url=url), "upgrade", "head")
            self.name = name
        return self.name

    def drop(self) -> None:
        if self.server_url is not None and self.name is not None:
            with suppress(psycopg.Error):
                drop_database(self.server_url, self.name)


@pytest.fixture(scope="session")
def ops_template(target: ScenarioTarget) -> Iterator[TemplateDatabase]:
    template = TemplateDatabase(target.database_url)
    yield template
    template.drop()


@dataclass
class OpsLab:
    """What one operational scenario made and saw."""

    world: World
    template: TemplateDatabase
    root: Path
    databases: list[str] = field(default_factory=list)
    cleanups: list[Callable[[], object]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    target: Target | None = None  # the scratch stage the scenario acts on
    names: dict[str, Any] = field(default_factory=dict)  # users and integrations by the scenario's names
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def server_url(self) -> str:
        url = self.world.target.database_url
        if url is None:
            pytest.fail("QA_DATABASE_URL is not set: operational scenarios make scratch databases on its server")
        return url

    def scratch_database(self) -> str:
        name = f"ops_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(with_database(self.server_url, "postgres"), autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self.template.get())
                )
            )
        self.databases.append(name)
        return with_database(self.server_url, name)

    def new_target(self, database_url: str, **values: Any) -> Target:
        settings: dict[str, Any] = {
            "stage": "local",
            "database_url": database_url,
            "checkout": PROJECT_ROOT,
            "state_dir": self.root / "ops",
            "backups_dir": self.root / "backups",
            "console": Console(stderr=True, width=160),
            "redis_key_prefix": f"integrations:ops-{uuid.uuid4().hex[:8]}",
            **values,
        }
        target = Target(**settings)
        self.targets.append(target)
        self.target = target
        return target

    def current(self) -> Target:
        assert self.target is not None, "no scratch stage was set up in this scenario"
        return self.target

    def sql(self) -> SQL:
        return psycopg.connect(self.current().database_url, autocommit=True)

    def close(self) -> None:
        for target in self.targets:
            if target.stage == "local":
                with suppress(Exception):
                    stop_local(target)
        for cleanup in reversed(self.cleanups):
            with suppress(Exception):
                cleanup()
        for name in self.databases:
            with suppress(psycopg.Error):
                drop_database(self.server_url, name)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def ops(world: World, ops_template: TemplateDatabase) -> Iterator[OpsLab]:
    lab = OpsLab(world=world, template=ops_template, root=Path(tempfile.mkdtemp(prefix="ops-scenario-")))
    try:
        yield lab
    finally:
        lab.close()


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, f"no migration head in {MIGRATIONS_DIR}"
    return head


def previous_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    down = script.get_revision(head_revision()).down_revision
    assert isinstance(down, str), "the newest migration has no single predecessor to start from"
    return down


def health_of(url: str) -> httpx.Response:
    return httpx.get(f"{url}/api/health", timeout=15)


# --- seeding over SQL ---------------------------------------------------------------------------------


def seed_user(connection: SQL, lab: OpsLab, name: str) -> str:
    users: dict[str, str] = lab.names.setdefault("users", {})
    if name not in users:
        row = connection.execute(
            "INSERT INTO users (name) VALUES (%s) RETURNING id", [f"{name}-{uuid.uuid4().hex[:6]}"]
        ).fetchone()
        assert row is not None
        users[name] = str(row[0])
    return users[name]


def seed_integration(
    connection: SQL,
    lab: OpsLab,
    name: str,
    kind: str = "XERO",
    *,
    owner: str | None = None,
    sync_status: str = "IDLE",
    active: bool = True,
) -> tuple[str, str, str]:
    """(integration id, user id, type) of the scenario's integration called `name`, created on first mention."""
    integrations: dict[str, tuple[str, str, str]] = lab.names.setdefault("integrations", {})
    if name not in integrations:
        user = seed_user(connection, lab, owner or f"owner-of-{name}")
        row = connection.execute(
            "INSERT INTO integrations_credentials (user_id, integration_type, integration_name, sync_status, is_active)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            [user, kind, name, sync_status, active],
        ).fetchone()
        assert row is not None
        integrations[name] = (str(row[0]), user, kind)
    return integrations[name]


def seed_log(
    connection: SQL,
    integration: tuple[str, str, str],
    status: str,
    *,
    error: str = "",
    age: str = "1 minute",
    sync_type: str = "invoices",
    records: int = 0,
    duration_ms: int | None = None,
) -> None:
    integration_id, user, kind = integration
    connection.execute(
        "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status,"
        " error_message, synced_records, duration_ms, created_at, completed_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now() - %s::interval, now() - %s::interval)",
        [integration_id, user, kind, sync_type, status, error or None, records, duration_ms, age, age],
    )


def seed_running(connection: SQL, integration: tuple[str, str, str], started: str, last_progress: str) -> None:
    """A sync log row still `running`, started and last heard of (its heartbeat) that long ago."""
    integration_id, user, kind = integration
    connection.execute(
        "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status,"
        " created_at, heartbeat_at) VALUES (%s, %s, %s, 'invoices', 'running', now() - %s::interval,"
        " now() - %s::interval)",
        [integration_id, user, kind, started, last_progress],
    )


def seed_webhook(connection: SQL, provider: str, outcome: str, age: str, processing: str) -> None:
    connection.execute(
        "INSERT INTO webhook_events (provider, event_id, event_type, outcome, payload, received_at, applied_at)"
        " VALUES (%s, %s, 'test.event', %s, '{}', now() - %s::interval, now() - %s::interval + %s::interval)",
        [provider, f"evt_{uuid.uuid4().hex}", outcome, age, age, processing],
    )


def table_rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    header = [cell.strip() for cell in datatable[0]]
    return [dict(zip(header, (cell.strip() for cell in row), strict=True)) for row in datatable[1:]]


def matches_table(actual: list[dict[str, Any]], datatable: list[list[str]]) -> tuple[list[Any], list[Any]]:
    """(expected, actual) rows, as sorted lists of the table's columns in text, for comparison."""
    expected = table_rows(datatable)
    columns = list(expected[0]) if expected else []
    shown = sorted(tuple(str(row.get(column)) for column in columns) for row in actual)
    wanted = sorted(tuple(row[column] for column in columns) for row in expected)
    return wanted, shown


@given("a scratch database at the code's newest migration")
def scratch_database_at_head(ops: OpsLab) -> None:
    ops.new_target(ops.scratch_database(), pool_capacity=50)


@given(parsers.parse("the scratch database holds these integrations:"))
def scratch_integrations(ops: OpsLab, datatable: list[list[str]]) -> None:
    with ops.sql() as connection:
        for row in table_rows(datatable):
            seed_integration(
                connection,
                ops,
                row["name"],
                row["type"],
                sync_status=row["sync status"],
                active=row.get("active", "yes") == "yes",
            )


@given(parsers.parse("the scratch database holds these sync logs:"))
def scratch_sync_logs(ops: OpsLab, datatable: list[list[str]]) -> None:
    with ops.sql() as connection:
        for row in table_rows(datatable):
            integration = seed_integration(
                connection, ops, row["integration"], row.get("type", "XERO"), owner=row.get("owner")
            )
            duration = row.get("duration", "").removesuffix("ms").strip()
            seed_log(
                connection,
                integration,
                row["status"],
                error=row.get("error", ""),
                age=row["age"],
                records=int(row.get("records") or 0),
                duration_ms=int(duration) if duration else None,
            )


@given(parsers.parse("the scratch database holds these webhook events:"))
def scratch_webhooks(ops: OpsLab, datatable: list[list[str]]) -> None:
    with ops.sql() as connection:
        for row in table_rows(datatable):
            seed_webhook(connection, row["provider"], row["outcome"], row["age"], row["processing"])


# --- monitoring: daily checks and alert rules -----------------------------------------------------------


@given("the scratch database holds a healthy day of syncs and webhooks")
def healthy_day(ops: OpsLab) -> None:
    with ops.sql() as connection:
        books = seed_integration(connection, ops, "healthy-books", "XERO")
        for status in ("failed", "failed", "success"):  # two failures, then a success: not 3 in a row
            seed_log(connection, books, status, error="HTTP 500" if status == "failed" else "", age="2 hours")
        charges = seed_integration(connection, ops, "healthy-charges", "STRIPE")
        seed_log(connection, charges, "success", age="1 hour", sync_type="payments")
        seed_webhook(connection, "stripe", "applied", "1 hour", "1 second")
        # A long sync still making progress is not stuck.
        seed_running(connection, seed_integration(connection, ops, "healthy-ledger", "MYOB"), "2 hours", "10 seconds")


def trigger(rule: str, lab: OpsLab, connection: SQL) -> None:
    """Rows (or connections) built to make exactly `rule` fire."""
    if rule == "sync_failed_3_times":
        files = seed_integration(connection, lab, "failing-files", "MYOB")
        for age in ("3 hours", "2 hours", "1 hour"):
            seed_log(connection, files, "failed", error="HTTP 500", age=age)
    elif rule == "webhook_latency":
        seed_webhook(connection, "paypal", "applied", "10 minutes", "6 seconds")
    elif rule == "sync_stuck_running":
        seed_running(connection, seed_integration(connection, lab, "stuck-books", "XERO"), "50 minutes", "45 minutes")
    elif rule == "database_pool":
        target = lab.current()
        target.pool_capacity = 5
        for _ in range(4):
            held = psycopg.connect(target.database_url)
            lab.cleanups.append(held.close)
    elif rule == "rate_limits":
        books = seed_integration(connection, lab, "limited-books", "XERO")
        seed_log(connection, books, "partial", error="HTTP 429 (Retry-After 3600 s)")
    elif rule == "token_refresh":
        company = seed_integration(connection, lab, "expired-company", "QUICKBOOKS")
        for status, age in (("failed", "4 hours"), ("success", "3 hours"), ("failed", "2 hours"), ("failed", "1 hour")):
            error = "token refresh failed: the provider refused the token request (invalid_grant)"
            seed_log(connection, company, status, error=error if status == "failed" else "", age=age)
    elif rule == "payment_failures":
        integration_id, user, _ = seed_integration(connection, lab, "declining-charges", "STRIPE")
        connection.execute(
            "INSERT INTO stripe_payments (integration_id, user_id, stripe_charge_id, status)"
            " VALUES (%s, %s, %s, 'failed')",
            [integration_id, user, f"ch_{uuid.uuid4().hex[:12]}"],
        )
    elif rule == "subscription_sync_failures":
        plans = seed_integration(connection, lab, "paypal-plans", "PAYPAL")
        seed_log(connection, plans, "failed", error="HTTP 503", sync_type="subscriptions")
    else:
        pytest.fail(f"no trigger is written for the alert rule {rule!r}")


@given(parsers.re(r'the scratch database holds (?P<description>.+), built to trigger "(?P<rule>[a-z_0-9]+)"$'))
def scratch_trigger(ops: OpsLab, description: str, rule: str) -> None:
    with ops.sql() as connection:
        trigger(rule, ops, connection)


@when("the daily checks run on the scratch database")
@when("the alert rules are evaluated on the scratch database")
def monitor_scratch(ops: OpsLab) -> None:
    ops.facts["monitor"] = evaluate(ops.current())


def monitor_result(ops: OpsLab) -> MonitorResult:
    result = ops.facts.get("monitor")
    assert isinstance(result, MonitorResult), "the monitor has not run in this scenario"
    return result


@then(parsers.parse('the daily check "{check}" shows:'))
def daily_check_shows(ops: OpsLab, check: str, datatable: list[list[str]]) -> None:
    assert check in DAILY_CHECKS, f"no daily check {check!r}; the monitor has {list(DAILY_CHECKS)}"
    wanted, shown = matches_table(monitor_result(ops).daily[check], datatable)
    assert shown == wanted, f"daily check {check!r}: expected {wanted}, the monitor showed {shown}"


@then(parsers.parse('only the alert "{rule}" fires'))
def only_alert_fires(ops: OpsLab, rule: str) -> None:
    assert rule in RULES, f"no alert rule {rule!r}; the monitor has {list(RULES)}"
    result = monitor_result(ops)
    details = {alert.rule: alert.rows for alert in result.alerts if alert.firing}
    assert result.firing == [rule], f"expected only {rule!r} to fire; firing: {details}"


@then("no alert fires")
def no_alert_fires(ops: OpsLab) -> None:
    result = monitor_result(ops)
    assert len(result.alerts) == len(RULES), f"expected all {len(RULES)} rules evaluated, got {result.firing}"
    details = {alert.rule: alert.rows for alert in result.alerts if alert.firing}
    assert result.firing == [], f"a healthy day fired alerts: {details}"


# --- weekly and monthly reports ------------------------------------------------------------------------


@when(parsers.re(r"the (?P<period>weekly|monthly) report is built from the scratch database$"))
def report_from_scratch(ops: OpsLab, period: str) -> None:
    ops.facts["report"] = build_report(ops.current(), period, audit_timeout_s=SHORT_AUDIT_S)


def report_section(ops: OpsLab, section: str) -> list[dict[str, Any]]:
    report = ops.facts.get("report")
    assert isinstance(report, dict), "no report was built in this scenario"
    sections: dict[str, list[dict[str, Any]]] = report["sections"]
    assert section in sections, f"the {report['period']} report has no section {section!r}: {list(sections)}"
    return sections[section]


@then(parsers.parse('the report section "{section}" shows:'))
def report_section_shows(ops: OpsLab, section: str, datatable: list[list[str]]) -> None:
    wanted, shown = matches_table(report_section(ops, section), datatable)
    assert shown == wanted, f"report section {section!r}: expected {wanted}, the report showed {shown}"


@then(parsers.parse('the first pattern of "{section}" is the most frequent one'))
def first_pattern_most_frequent(ops: OpsLab, section: str) -> None:
    counts = [int(row["count"]) for row in report_section(ops, section)]
    assert counts, f"the section {section!r} is empty"
    assert counts[0] == max(counts), f"expected the most frequent pattern first, got counts {counts}"


@then(parsers.parse("the token refresh success rate of {kind} is {rate:d} %"))
def refresh_success_rate(ops: OpsLab, kind: str, rate: int) -> None:
    rows = [
        row for row in report_section(ops, "token refresh success rate (7 days)") if row["integration_type"] == kind
    ]
    assert len(rows) == 1, f"expected one row for {kind}, got {rows}"
    syncs, failures = int(rows[0]["syncs"]), int(rows[0]["refresh_failures"])
    actual = round(100 * (syncs - failures) / syncs)
    assert actual == rate, f"expected a {rate} % refresh success rate for {kind}, the report gives {failures}/{syncs}"


@then(
    parsers.parse(
        "the sync performance trend for {kind} in the week of the syncs {age} ago shows {syncs:d} syncs, "
        "{avg:d} ms on average, {p95:d} ms at the 95th percentile"
    )
)
def trend_week(ops: OpsLab, kind: str, age: str, syncs: int, avg: int, p95: int) -> None:
    with ops.sql() as connection:
        row = connection.execute("SELECT date_trunc('week', now() - %s::interval)::date::text", [age]).fetchone()
    assert row is not None
    week = str(row[0])
    section = report_section(ops, "sync performance trend (weekly, 30 days)")
    rows = [r for r in section if r["week"] == week and r["integration_type"] == kind]
    assert len(rows) == 1, f"expected one {kind} row for the week of {week}, the trend shows {section}"
    shown = (int(rows[0]["syncs"]), round(float(rows[0]["avg_ms"])), round(float(rows[0]["p95_ms"])))
    assert shown == (syncs, avg, p95), f"week of {week}: expected (syncs, avg, p95) {(syncs, avg, p95)}, got {shown}"


@then("the sync performance trend has no week older than 30 days")
def trend_window(ops: OpsLab) -> None:
    with ops.sql() as connection:
        row = connection.execute("SELECT date_trunc('week', now() - interval '30 days')::date::text").fetchone()
    assert row is not None
    old = [r for r in report_section(ops, "sync performance trend (weekly, 30 days)") if r["week"] < str(row[0])]
    assert old == [], f"weeks older than the 30-day window are in the trend: {old}"


@when("the monthly report is built with its dependency audit")
def monthly_report_with_audit(ops: OpsLab) -> None:
    database_url = ops.world.target.database_url
    if database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: the monthly report reads the stage's sync logs")
    ops.facts["report"] = build_report(Target(stage="local", database_url=database_url), "monthly")


@then("the dependency audit found no known vulnerability, or says clearly why it could not tell")
def audit_outcome(ops: OpsLab) -> None:
    report = ops.facts["report"]
    audit = report["vulnerabilities"]
    assert audit["status"] in ("passed", "failed", "unknown"), f"unexpected audit outcome {audit}"
    assert audit["status"] != "failed", f"known vulnerabilities in the dependencies: {audit['vulnerable']}"
    if audit["status"] == "unknown":
        assert len(audit.get("note", "")) > 20, f"the audit could not tell, and does not say why: {audit}"
        return
    # "passed" must mean something was audited: the report says "unknown" when pip-audit looked nothing up
    # (tests/harness/ops/test_reports.py holds it to that).
    assert audit["status"] == "passed", audit


# --- documentation (MONTH-03) ---------------------------------------------------------------------------


@when("the service's OpenAPI schema is read from the stage")
def read_openapi(world: World, ops: OpsLab) -> None:
    response = world.client().get("/openapi.json")
    assert response.status_code == 200, f"expected the OpenAPI schema: {describe(response)}"
    ops.facts["openapi"] = response.json()


_DOCUMENTED_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?[\s]*)[^`]*`")
_PLACEHOLDER = re.compile(r"\{[^}/]+\}|<[^>/]+>")


def documented_patterns(docs: str) -> list[tuple[str, re.Pattern[str]]]:
    """Each `METHOD /path` the documents name (and the shorthands and registered URLs), as a pattern."""
    patterns = []
    for line in docs.splitlines():
        routes = _DOCUMENTED_ROUTE.findall(line)
        for method, path in routes:
            patterns.append((method, path))
        # A shorthand sibling on the same line: "`GET /api/integrations/stripe/payments`, `/stripe/subscriptions`".
        for method, _ in routes[:1]:
            patterns += [(method, "/api/integrations" + tail) for tail in re.findall(r"`(/[a-z][^`?\s]*)`", line)]
        # A URL the provider or the browser is sent to: "`{PUBLIC_URL}/api/integrations/paypal/webhook`".
        patterns += [("*", path) for path in re.findall(r"\{PUBLIC_URL\}(/[^`?\s]*)", line)]
    return [(method, route_pattern(path)) for method, path in patterns]


def route_pattern(path: str) -> re.Pattern[str]:
    """`{provider}` (or `<name>`) stands for a provider's name; any other `{id}` for the route's own parameter."""
    pattern, position = "", 0
    for placeholder in _PLACEHOLDER.finditer(path):
        pattern += re.escape(path[position : placeholder.start()])
        provider = placeholder.group(0) == "{provider}" or placeholder.group(0).startswith("<")
        pattern += r"(?:[a-z]+|\{[^}/]+\})" if provider else r"\{[^}/]+\}"
        position = placeholder.end()
    return re.compile(pattern + re.escape(path[position:]))


def documented(method: str, path: str, patterns: list[tuple[str, re.Pattern[str]]]) -> bool:
    return any(kind in (method, "*") and pattern.fullmatch(path) for kind, pattern in patterns)


@then("every route of the schema is documented in INTEGRATIONS.md or README.md")
def routes_documented(world: World, ops: OpsLab) -> None:
    root = world.target.project_root
    docs = (root / "INTEGRATIONS.md").read_text(encoding="utf-8") + (root / "README.md").read_text(encoding="utf-8")
    methods = ("get", "post", "put", "patch", "delete")
    routes = [
        (method.upper(), path)
        for path, operations in ops.facts["openapi"]["paths"].items()
        for method in operations
        if method in methods
    ]
    assert routes, "the OpenAPI schema lists no routes"
    patterns = documented_patterns(docs)
    missing = [f"{method} {path}" for method, path in routes if not documented(method, path, patterns)]
    assert missing == [], f"routes the service offers that no document describes: {missing}"


@then("every integration type the service accepts has its own section in INTEGRATIONS.md")
def integration_types_documented(world: World, ops: OpsLab) -> None:
    schemas = ops.facts["openapi"].get("components", {}).get("schemas", {})
    kinds = schemas.get("IntegrationType", {}).get("enum", [])
    assert kinds, f"the OpenAPI schema names no IntegrationType enum: {sorted(schemas)[:20]}"
    headings = [
        line.removeprefix("## ").casefold()
        for line in (world.target.project_root / "INTEGRATIONS.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    ]
    missing = [kind for kind in kinds if not any(heading.startswith(kind.casefold()) for heading in headings)]
    assert missing == [], f"integration types without a section in INTEGRATIONS.md: {missing} (sections: {headings})"


# --- migration, backup and restore --------------------------------------------------------------------


def seed_customer(lab: OpsLab) -> None:
    """A customer's integration, two sync logs (one failed) and an invoice."""
    with lab.sql() as connection:
        books = seed_integration(connection, lab, "customer-books", "XERO", owner="customer")
        seed_log(connection, books, "success", records=1, age="2 hours")
        seed_log(connection, books, "failed", error="HTTP 503", age="1 hour")
        connection.execute(
            "INSERT INTO xero_invoices (integration_id, user_id, xero_invoice_id) VALUES (%s, %s, %s)",
            [books[0], books[1], f"INV-{uuid.uuid4().hex[:8]}"],
        )


@given("a scratch database one migration behind the code, holding a customer's integration, sync logs and invoices")
def scratch_behind(ops: OpsLab) -> None:
    target = ops.new_target(ops.scratch_database())
    run_alembic(target, "downgrade", previous_revision())
    seed_customer(ops)
    ops.facts["counts_before"] = row_counts(target.database_url)


@when("the migration procedure runs on the scratch database")
def run_migration(ops: OpsLab) -> None:
    ops.facts["migration"] = migrate(ops.current())


@then("a backup was taken before the migration, its manifest counting every row that was there")
def migration_backup(ops: OpsLab) -> None:
    result: MigrationResult = ops.facts["migration"]
    assert result.backup is not None, "the migration procedure took no backup before migrating"
    manifest = result.backup.manifest
    assert manifest["row_counts"] == ops.facts["counts_before"], (
        f"the backup's manifest counts {manifest['row_counts']}, the database held {ops.facts['counts_before']}"
    )
    assert manifest["alembic_revision"] == previous_revision(), (
        f"the backup should be of revision {previous_revision()}, its manifest says {manifest['alembic_revision']}"
    )


@then("the backup restores into a fresh database with exactly the rows its manifest counts")
def backup_restores(ops: OpsLab) -> None:
    result: MigrationResult = ops.facts["migration"]
    assert result.backup is not None, "no backup to restore"
    target = ops.current()
    verify_by_restoring(target, find_tools(target.database_url), result.backup)  # raises on any difference


@then("the scratch database is at the code's newest migration and its schema matches the code's models")
def at_head_without_drift(ops: OpsLab) -> None:
    target = ops.current()
    revision = alembic_revision(target.database_url)
    assert revision == head_revision(), f"expected revision {head_revision()}, the database is at {revision}"
    run_alembic(target, "check")  # raises when the schema differs from the models


@then("every table of the scratch database kept all of its rows")
def no_rows_lost(ops: OpsLab) -> None:
    before: dict[str, int] = ops.facts["counts_before"]
    after = row_counts(ops.current().database_url)
    lost = {table: (rows, after.get(table, 0)) for table, rows in before.items() if after.get(table, 0) < rows}
    assert lost == {}, f"tables lost rows (before, after): {lost}"
    with ops.sql() as connection:
        row = connection.execute(
            "SELECT count(*) FROM integrations_credentials WHERE integration_name = 'customer-books'"
        ).fetchone()
    assert row == (1,), "the customer's integration is gone after the migration"


# --- deployments on scratch stages --------------------------------------------------------------------


def deploy_scratch(lab: OpsLab, target: Target) -> None:
    """Deploy the target's checkout as a local service; a refusal to start is kept, not raised."""
    try:
        deploy(target)
        lab.facts.setdefault("pids", []).append(json.loads(service_state(target).read_text())["pid"])
    except OpsError as refusal:
        lab.facts["deploy_refusal"] = str(refusal)


def service_state(target: Target) -> Path:
    return target.state_dir / f"service-{target.stage}.json"


@given(
    parsers.re(
        r"service settings for (?P<stage>staging|production) with its own OAuth app, PayPal in (?P<mode>sandbox|live) "
        r"mode, HTTPS addresses and a generated encryption key"
    )
)
def stage_service_settings(ops: OpsLab, stage: str, mode: str) -> None:
    site = f"https://{stage}.crm.example"
    ops.facts["service_env"] = {
        "STAGE": stage,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_URL": site,
        "CORS_ALLOWED_ORIGINS": site,
        "XERO_CLIENT_ID": f"{stage}-xero-app",
        "XERO_CLIENT_SECRET": uuid.uuid4().hex,
        "PAYPAL_MODE": mode,
        "PAYPAL_WEBHOOK_ID": f"WH-{uuid.uuid4().hex[:17].upper()}",
        "STRIPE_WEBHOOK_SECRETS": f"whsec_{uuid.uuid4().hex}",
    }


@when(parsers.re(r'the setting (?P<name>[A-Z_]+) is set to "(?P<value>[^"]*)"'))
def change_setting(ops: OpsLab, name: str, value: str) -> None:
    if value == "the key from .env.example":  # what a hurried operator copies
        example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
        found = re.search(rf"^{name}=(\S+)", example, re.MULTILINE)
        assert found, f".env.example has no {name}"
        value = found.group(1)
    ops.facts["service_env"][name] = value


@when("the code is deployed with those settings on a scratch database")
def deploy_with_settings(ops: OpsLab) -> None:
    target = ops.new_target(ops.scratch_database(), service_env=ops.facts["service_env"])
    deploy_scratch(ops, target)


@then(parsers.parse('the service refused to start, saying "{reason}"'))
def service_refused(ops: OpsLab, reason: str) -> None:
    refusal = ops.facts.get("deploy_refusal")
    assert refusal is not None, f"expected the service to refuse to start ({reason}); it started"
    assert reason in refusal, f"expected the refusal to say {reason!r}; it said: {refusal[-1500:]}"


@then("the deployed service answers its health check with its database reachable")
def deployed_healthy(ops: OpsLab) -> None:
    assert "deploy_refusal" not in ops.facts, f"the service did not start: {ops.facts['deploy_refusal'][-1500:]}"
    target = ops.current()
    assert target.service_url, "the deployment recorded no service URL"
    answer = health_of(target.service_url)
    assert answer.status_code == 200, f"expected a healthy service: {describe(answer)}"
    body = answer.json()
    assert body.get("status") == "ok", f"expected a healthy service: {describe(answer)}"
    assert body.get("checks", {}).get("database") == "ok", f"expected the database reachable: {describe(answer)}"


@when("the code is deployed to the scratch stage")
@when("the code is deployed to the scratch stage again")
def deploy_to_scratch(ops: OpsLab) -> None:
    deploy_scratch(ops, ops.current())
    assert "deploy_refusal" not in ops.facts, f"the deployment failed: {ops.facts['deploy_refusal'][-1500:]}"


@then("the deploy log records both deployments of the checkout's commit")
def deploy_log_records(ops: OpsLab) -> None:
    target = ops.current()
    records = [r for r in read_records(deploy_log(target)) if r["result"] == "ok"]
    sha = git_sha(target.checkout)
    assert [r["sha"] for r in records] == [sha, sha], f"expected two deployments of {sha[:10]}: {records}"
    assert all(r["stage"] == target.stage and r.get("time") for r in records), f"records lack stage or time: {records}"


@then("only the newest deployment's service is running, and it answers its health check")
def only_newest_running(ops: OpsLab) -> None:
    first, newest = ops.facts["pids"]
    assert first != newest, "the second deployment did not start a new service"
    assert not psutil.pid_exists(first), f"the first deployment's service (pid {first}) is still running"
    assert psutil.pid_exists(newest), f"the newest deployment's service (pid {newest}) is not running"
    deployed_healthy(ops)


@given("the code deployed to the scratch stage, pointed at the provider sandbox")
def deployed_with_sandbox(world: World, ops: OpsLab) -> None:
    sandbox, verify = world.sandbox_url(), client_verify(world.target.ca_bundle)
    url = f"http://127.0.0.1:{free_port()}"
    control = world.sandbox()
    # A PayPal webhook of its own that PayPal (the sandbox) sends nothing to unless the scenario delivers.
    registered = control.post(
        "/paypal/webhooks",
        json={"url": f"{url}/api/integrations/paypal/webhook", "enabled_events": [NEVER_SENT], "max_attempts": 1},
    )
    assert registered.status_code == 201, f"registering a PayPal webhook: {describe(registered)}"
    webhook_id = registered.json()["webhook_id"]
    ops.cleanups.append(lambda: httpx.delete(f"{sandbox}/_sandbox/paypal/webhooks/{webhook_id}", verify=verify))
    secret = f"whsec_{uuid.uuid4().hex}"
    service_env = {
        **sandbox_service_env(sandbox),
        **LOCAL_SERVICE_ENV,
        "STRIPE_WEBHOOK_SECRETS": secret,
        "PAYPAL_WEBHOOK_ID": webhook_id,
    }
    target = ops.new_target(ops.scratch_database(), service_url=url, service_env=service_env)
    target.stripe_webhook_secret = secret
    ops.facts["paypal_webhook_id"] = webhook_id
    deploy_to_scratch(ops)


def scratch_user(world: World, ops: OpsLab, name: str) -> httpx.Client:
    """A user of the scratch stage with an API token; the client calls the scratch stage's service."""
    clients: dict[str, httpx.Client] = ops.names.setdefault("clients", {})
    if name not in clients:
        target = ops.current()
        token = issue_token_on(target.database_url, "local", f"{name.lower()}-{uuid.uuid4().hex[:8]}", "ops scenario")
        ops.facts[f"token:{name}"] = token
        clients[name] = world.client(base_url=target.service_url, headers={"Authorization": f"Bearer {token}"})
    return clients[name]


def small_xero_organisation(world: World, invoices: int) -> str:
    created = world.sandbox().post(
        "/tenants",
        json={"provider": "xero", "invoices": invoices, "contacts": 2, "name": f"ops-{uuid.uuid4().hex[:8]}"},
    )
    assert created.status_code == 201, f"creating a Xero organisation in the sandbox: {describe(created)}"
    tenant: str = created.json()["tenant_id"]
    return tenant


@given(parsers.parse('"{name}" on the scratch stage has connected a Xero organisation of {invoices:d} invoices'))
def scratch_xero(world: World, ops: OpsLab, name: str, invoices: int) -> None:
    api = scratch_user(world, ops, name)
    tenant = small_xero_organisation(world, invoices)
    integration = connect_via_oauth(api, world.client(base_url=""), "xero", tenant)
    ops.facts["xero_integration"] = integration["id"]


@when("the smoke tests run against the scratch stage with Sam's token and Xero integration")
def smoke_with_integration(ops: OpsLab) -> None:
    target = ops.current()
    target.smoke_api_token = ops.facts["token:Sam"]
    target.smoke_integration_id = ops.facts["xero_integration"]
    ops.facts["smoke"] = smoke(target)


@when("the smoke tests run against the scratch stage")
def smoke_scratch(ops: OpsLab) -> None:
    ops.facts["smoke"] = smoke(ops.current())


def smoke_checks(ops: OpsLab) -> dict[str, tuple[str, str]]:
    result: SmokeResult = ops.facts["smoke"]
    return {check.name: (check.status, check.detail) for check in result.checks}


@then(parsers.parse("every smoke check passed: {names}"))
def smoke_passed(ops: OpsLab, names: str) -> None:
    checks = smoke_checks(ops)
    wanted = [name.strip() for name in names.split(",")]
    not_passed = {name: checks.get(name, ("absent", "")) for name in wanted if checks.get(name, ("",))[0] != "passed"}
    assert not_passed == {}, f"smoke checks that did not pass: {not_passed}"


@then(parsers.parse('the smoke check "{name}" failed, reporting "{detail}"'))
def smoke_failed(ops: OpsLab, name: str, detail: str) -> None:
    status, shown = smoke_checks(ops).get(name, ("absent", ""))
    assert status == "failed", f"expected {name!r} to fail: {status}, {shown!r}"
    assert detail in shown, f"expected {name!r} to report {detail!r}: {shown!r}"
    assert not ops.facts["smoke"].passed, "the smoke run as a whole passed despite a failed check"


@then(parsers.parse('the smoke checks "{first}" and "{second}" still passed'))
def smoke_still_passed(ops: OpsLab, first: str, second: str) -> None:
    smoke_passed(ops, f"{first}, {second}")


@then(parsers.parse("Sam's {invoices:d} Xero invoices are stored on the scratch stage"))
def scratch_invoices_stored(ops: OpsLab, invoices: int) -> None:
    with ops.sql() as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [ops.facts["xero_integration"]],
        ).fetchone()
    assert row == (invoices, invoices), f"expected {invoices} distinct invoices stored, got (rows, distinct) {row}"


@when(
    parsers.parse(
        'a buyer pays "{name}" {amount} USD through PayPal and PayPal\'s signed webhook for the sale is delivered'
    )
)
def paypal_sale_delivered(world: World, ops: OpsLab, name: str, amount: str) -> None:
    api = scratch_user(world, ops, name)
    created = api.post(
        "/api/integrations",
        json={
            "integrationType": "PAYPAL",
            "integrationName": f"paypal-{uuid.uuid4().hex[:6]}",
            "apiKey": "sandbox-paypal-client",  # the sandbox's default REST app (its README)
            "apiSecret": "sandbox-paypal-secret",
        },
    )
    assert created.status_code == 201, f"connecting PayPal: {describe(created)}"
    integration_id = created.json()["integration"]["id"]
    payment = api.post(
        "/api/integrations/paypal/payments",
        json={
            "integrationId": integration_id,
            "amount": amount,
            "currency": "USD",
            "returnUrl": "https://crm.example/paypal/return",
            "cancelUrl": "https://crm.example/paypal/cancel",
        },
    )
    assert payment.status_code == 201, f"creating a PayPal payment: {describe(payment)}"
    approval = world.client(base_url="").get(payment.json()["approvalUrl"])
    assert approval.status_code == 302, f"the buyer's approval: {approval.status_code} {approval.text[:300]}"
    payer = parse_qs(urlsplit(approval.headers["location"]).query)["PayerID"][0]
    payment_id = payment.json()["payment"]["paypalPaymentId"]
    executed = api.post(
        f"/api/integrations/paypal/payments/{payment_id}/execute",
        json={"integrationId": integration_id, "payerId": payer},
    )
    assert executed.status_code == 200, f"executing the PayPal payment: {describe(executed)}"
    control = world.sandbox()
    events = [
        event
        for event in control.get("/paypal/events").json()
        if event["event_type"] == "PAYMENT.SALE.COMPLETED" and event["resource"].get("parent_payment") == payment_id
    ]
    assert len(events) == 1, f"expected PayPal to emit one PAYMENT.SALE.COMPLETED for {payment_id}, got {events}"
    delivered = control.post(
        "/paypal/webhooks/deliver",
        json={"endpoint_id": ops.facts["paypal_webhook_id"], "event_ids": [events[0]["id"]]},
    )
    assert delivered.status_code == 200, f"delivering the PayPal webhook: {describe(delivered)}"
    ops.facts["paypal_event"] = events[0]["id"]
    ops.facts["paypal_attempts"] = delivered.json()["attempts"]


@then(parsers.parse('the scratch stage verified and recorded PayPal\'s "{event_type}" event for the sale'))
def paypal_event_applied(ops: OpsLab, event_type: str) -> None:
    attempts = ops.facts["paypal_attempts"]
    assert [attempt["status_code"] for attempt in attempts] == [200], f"the service answered PayPal: {attempts}"
    with ops.sql() as connection:
        row = connection.execute(
            "SELECT event_type, outcome FROM webhook_events WHERE provider = 'paypal' AND event_id = %s",
            [ops.facts["paypal_event"]],
        ).fetchone()
    assert row is not None, f"the {event_type} event PayPal delivered was not recorded"
    # Execute already stored the completed sale, so the event may find nothing newer to apply ("ignored").
    assert row[0] == event_type, f"expected the {event_type} event recorded, got {row}"
    assert row[1] in ("applied", "ignored"), f"expected the verified event matched to the sale, got {row}"


@when("a sync on the scratch stage fails")
def scratch_sync_fails(ops: OpsLab) -> None:
    with ops.sql() as connection:
        seed_log(connection, seed_integration(connection, ops, "failing-books", "XERO"), "failed", error="HTTP 503")


# --- post-deployment verification of the stage itself (read-only) --------------------------------------


def stage_target(world: World) -> Target:
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: the post-deployment checks read the stage's database")
    return Target(
        stage=parse_stage(world.target.stage),
        database_url=world.target.database_url,
        service_url=world.target.service_url,
        ca_bundle=world.target.ca_bundle,
        console=Console(stderr=True, width=160),
    )


@when("the post-deployment checks run against the stage")
def post_deployment_checks(world: World, ops: OpsLab) -> None:
    target = stage_target(world)  # no token and no webhook secret: nothing is written to the stage
    ops.facts["smoke"] = smoke(target)
    ops.facts["monitor"] = evaluate(target)


@then(parsers.parse('the post-deployment checks "{first}" and "{second}" passed'))
def post_deployment_passed(ops: OpsLab, first: str, second: str) -> None:
    smoke_passed(ops, f"{first}, {second}")


@then("the daily checks and all seven alert rules were evaluated on the stage's database")
def stage_monitor_read(ops: OpsLab) -> None:
    result = monitor_result(ops)
    assert sorted(result.daily) == sorted(DAILY_CHECKS), f"daily checks answered: {sorted(result.daily)}"
    assert [alert.rule for alert in result.alerts] == list(RULES), f"rules evaluated: {[a.rule for a in result.alerts]}"
    assert len(RULES) == 7, f"the checklist lists seven alert rules; the monitor has {len(RULES)}"


# --- production: preflight, sign-offs, database, deploy command -----------------------------------------


@given("a production release of the current commit, with production's last deployment recorded")
def production_release(ops: OpsLab) -> None:
    # Sign-offs live in production's gate store: here a scratch database, as every runner would share it.
    target = ops.new_target("", stage="production", deploy_command="true", gate_store_url=ops.scratch_database())
    deploy(target, yes=True)  # the version production runs now: a release needs one to roll back to
    ops.facts["sha"] = git_sha(target.checkout)
    ops.facts["reports"] = ops.root / "reports"


def try_release(ops: OpsLab) -> str | None:
    """The refusal of a production release (dry run), or None when it would go ahead."""
    try:
        outcome = release(ops.current(), reports_dir=ops.facts["reports"], dry_run=True)
    except OpsError as refusal:
        return str(refusal)
    assert outcome["status"] == "dry-run", f"a dry-run release did something: {outcome}"
    return None


@then(parsers.parse('the production release is refused, naming "{words}"'))
def release_refused(ops: OpsLab, words: str) -> None:
    refusal = try_release(ops)
    ops.facts["refusal"] = refusal
    assert refusal is not None, f"expected the production release refused ({words}); it would go ahead"
    assert words in refusal, f"expected the refusal to name {words!r}: {refusal}"


@then(parsers.parse('the refusal also names "{words}"'))
def refusal_names(ops: OpsLab, words: str) -> None:
    assert words in (ops.facts.get("refusal") or ""), (
        f"expected the refusal to name {words!r}: {ops.facts.get('refusal')}"
    )


@then(parsers.parse('the production release is refused, naming the missing "{role}" attestation'))
def release_refused_for_role(ops: OpsLab, role: str) -> None:
    missing = missing_signoffs(ops.current(), ops.facts["sha"])
    assert missing == [role], f"expected only the {role!r} sign-off missing, missing: {missing}"
    release_refused(ops, f"sign-offs missing for {ops.facts['sha'][:10]}: {role} (")


@then("the production release goes ahead")
def release_goes_ahead(ops: OpsLab) -> None:
    refusal = try_release(ops)
    assert refusal is None, f"expected the production release to go ahead; it was refused: {refusal}"


@given(parsers.re(r"staging's release gate (?P<verdict>passed|failed) on (?P<which>the current|another) commit"))
@when(parsers.re(r"staging's release gate (?P<verdict>passed|failed) on (?P<which>the current|another) commit"))
def staging_gate_report(ops: OpsLab, verdict: str, which: str) -> None:
    sha = ops.facts["sha"] if which == "the current" else uuid.uuid4().hex + uuid.uuid4().hex[:8]
    report = ops.facts["reports"] / f"staging-{uuid.uuid4().hex[:8]}" / "release-report.json"
    report.parent.mkdir(parents=True)
    document = {"stage": "staging", "git_sha": sha, "verdict": "pass" if verdict == "passed" else "fail"}
    report.write_text(json.dumps(document))


@given(
    parsers.re(r'every attestation of the checklist is recorded for the current commit(?: except "(?P<skip>[^"]+)")?')
)
@when(
    parsers.re(r'every attestation of the checklist is recorded for the current commit(?: except "(?P<skip>[^"]+)")?')
)
def record_attestations(ops: OpsLab, skip: str | None) -> None:
    if skip is not None:
        assert skip in ATTESTATION_IDS, f"{skip} is not an attested checklist id: {list(ATTESTATION_IDS)}"
    for checklist_id, role in ATTESTATION_IDS.items():
        if checklist_id != skip:
            record_signoff(ops.current(), role, f"Approver of {checklist_id}", ops.facts["sha"])


@when(parsers.re(r'"(?P<name>[^"]+)" records the "(?P<role>[^"]+)" sign-off for (?P<which>the current|another) commit'))
def record_one_signoff(ops: OpsLab, name: str, role: str, which: str) -> None:
    sha = ops.facts["sha"] if which == "the current" else "0" * 40
    record_signoff(ops.current(), role, name, sha)


@then(parsers.parse('the "{role}" sign-off by "{name}" is recorded for the current commit'))
def signoff_recorded(ops: OpsLab, role: str, name: str) -> None:
    records = read_signoffs(ops.current(), ops.facts["sha"])  # from the stage's gate store
    record = records.get(role)
    assert isinstance(record, dict), f"no {role!r} sign-off recorded for {ops.facts['sha'][:10]}: {records}"
    assert record.get("name") == name, f"expected the sign-off by {name!r}, recorded {record}"
    assert record.get("time"), f"the sign-off carries no time: {record}"


@then(parsers.parse('the release report shows "{checklist_id}" as attested by "{name}"'))
def attested_in_report(ops: OpsLab, checklist_id: str, name: str) -> None:
    attested = recorded_attestations(ops.current(), ops.facts["sha"])
    shown = attested.get(checklist_id, "")
    assert shown.startswith(f"{name} at "), f"expected {checklist_id} attested by {name!r}, recorded: {attested}"


@then(parsers.parse('recording a "{role}" sign-off by "{name}" is refused, naming "{words}"'))
def signoff_refused(ops: OpsLab, role: str, name: str, words: str) -> None:
    with pytest.raises(OpsError) as refused:
        record_signoff(ops.current(), role, name, ops.facts["sha"])
    assert words in str(refused.value), f"expected the refusal to name {words!r}: {refused.value}"
    assert read_signoffs(ops.current(), ops.facts["sha"]) == {}, "a refused sign-off was written"


@given("production's deploy command writes the commit it is asked to deploy to a file")
def production_deploy_command(ops: OpsLab) -> None:
    written = ops.root / "deployed-sha.txt"
    ops.facts["deployed_file"] = written
    ops.new_target("", stage="production", deploy_command=f'printf %s "$DEPLOY_SHA" > {shlex.quote(str(written))}')


@when(parsers.parse('the operator deploys to production and types "{answer}" at the confirmation'))
def deploy_with_answer(ops: OpsLab, monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer + "\n"))  # what the operator types
    try:
        deploy(ops.current())
        ops.facts.pop("deploy_refusal", None)
    except OpsError as refusal:
        ops.facts["deploy_refusal"] = str(refusal)


@then("nothing was deployed to production")
def nothing_deployed(ops: OpsLab) -> None:
    refusal = ops.facts.get("deploy_refusal", "")
    assert "not confirmed" in refusal, f"expected the deployment refused as not confirmed, got {refusal!r}"
    assert not ops.facts["deployed_file"].exists(), "the deploy command ran without a confirmation"
    assert read_records(deploy_log(ops.current())) == [], "an unconfirmed deployment was recorded"


@then("the deploy command was given the checkout's commit")
def deploy_command_ran(ops: OpsLab) -> None:
    assert "deploy_refusal" not in ops.facts, f"the deployment was refused: {ops.facts['deploy_refusal']}"
    written: Path = ops.facts["deployed_file"]
    assert written.exists(), "the deploy command did not run"
    assert written.read_text() == git_sha(PROJECT_ROOT), f"DEPLOY_SHA was {written.read_text()!r}"


@then("the deploy log records the checkout's commit as deployed to production")
def production_deploy_recorded(ops: OpsLab) -> None:
    newest = last_deploy(ops.current())
    assert newest is not None, "no successful deployment in the deploy log"
    assert (newest["stage"], newest["sha"]) == ("production", git_sha(PROJECT_ROOT)), f"recorded {newest}"


# --- scratch git checkouts: releases, migrations, rollbacks ---------------------------------------------


def git(checkout: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed git subcommands on a scratch checkout
        ["git", *args],  # noqa: S607 - git from PATH, as harness.ops runs it
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr[-500:]}"
    return done.stdout.strip()


def make_checkout(root: Path) -> Path:
    """A git repository holding a copy of the service's code, committed: the 'running version'."""
    checkout = root / "checkout"
    shutil.copytree(
        PROJECT_ROOT / "src" / "integration_service",
        checkout / "src" / "integration_service",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    git(checkout, "init", "--quiet", "--initial-branch", "main")
    git(checkout, "config", "user.email", "ops-scenario@example.test")
    git(checkout, "config", "user.name", "Ops scenario")
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "the running version")
    return checkout


def add_migration(checkout: Path, name: str, body: str) -> str:
    revision = f"9999{name}"
    path = checkout / "src" / "integration_service" / "db" / "migrations" / "versions" / f"9999_{name}.py"
    path.write_text(
        f'"""ops scenario: {name}"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "{revision}"\ndown_revision = "{head_revision()}"\nbranch_labels = None\ndepends_on = None\n\n'
        f"{body}"
    )
    return revision


SCHEMA_CHANGE = """
def upgrade() -> None:
    op.add_column("integrations_credentials", sa.Column("release_note", sa.Text()))
    op.execute("UPDATE integrations_credentials SET release_note = 'new', integration_name = integration_name || '!'")
    op.create_table("release_markers", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("release_markers")
    op.drop_column("integrations_credentials", "release_note")
"""

LOSSY = """
def upgrade() -> None:
    op.execute("DELETE FROM integrations_sync_logs WHERE status = 'failed'")


def downgrade() -> None:
    pass
"""


def write_schema_release(checkout: Path, broken_logs_route: bool) -> None:
    package = checkout / "src" / "integration_service"
    add_migration(checkout, "release", SCHEMA_CHANGE)
    with (package / "db" / "schema.py").open("a") as schema:
        schema.write(
            '\nintegrations_credentials.append_column(Column("release_note", Text))\n'
            'release_markers = Table("release_markers", metadata, Column("id", Integer, primary_key=True))\n'
        )
    if broken_logs_route:
        logs = package / "api" / "logs.py"
        original = 'router = APIRouter(prefix="/api/integrations", tags=["sync logs"])'
        text = logs.read_text()
        assert original in text, "the logs router changed: update the scenario's way of breaking it"
        broken = (
            "def _broken() -> None:\n    raise RuntimeError('this release is broken')\n\n\n"
            'router = APIRouter(prefix="/api/integrations", tags=["sync logs"], dependencies=[Depends(_broken)])'
        )
        logs.write_text(text.replace(original, broken).replace("from fastapi import ", "from fastapi import Depends, "))


@given(
    "a scratch production database at the newest migration from a git checkout, holding customers' integrations "
    "and sync logs"
)
def production_database(ops: OpsLab) -> None:
    checkout = make_checkout(ops.root)
    target = ops.new_target(ops.scratch_database(), stage="production", checkout=checkout)
    seed_customer(ops)
    ops.facts["counts_before"] = row_counts(target.database_url)
    ops.facts["snapshot"] = table_snapshot(target.database_url)


@given("a new commit in the checkout whose migration deletes the failed sync logs")
def lossy_commit(ops: OpsLab) -> None:
    checkout = ops.current().checkout
    add_migration(checkout, "lossy", LOSSY)
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "a release whose migration deletes failed sync logs")


@when("the production migration procedure runs the new commit's migration")
def production_migration(ops: OpsLab) -> None:
    try:
        ops.facts["migration"] = migrate(ops.current(), yes=True)
    except OpsError as stopped:
        ops.facts["migration_stopped"] = str(stopped)


@then(parsers.parse('the procedure stops, reporting that "{table}" lost rows'))
def migration_stopped(ops: OpsLab, table: str) -> None:
    stopped = ops.facts.get("migration_stopped")
    assert stopped is not None, f"the migration completed although it deleted rows: {ops.facts.get('migration')}"
    assert "rows were lost" in stopped, f"expected it to report lost rows: {stopped}"
    assert table in stopped, f"expected it to name {table!r}: {stopped}"


@then("the backup taken before the migration counts every row that was there")
def production_backup(ops: OpsLab) -> None:
    backups = list_backups(ops.current())
    assert backups, f"no backup of production was taken in {ops.current().backups_dir}"
    backup: Backup = backups[-1]
    ops.facts["backup"] = backup
    counts = backup.manifest["row_counts"]
    assert counts == ops.facts["counts_before"], f"the backup counts {counts}, there were {ops.facts['counts_before']}"


@when("that backup is restored over the scratch production database")
def restore_backup(ops: OpsLab) -> None:
    restore(ops.current(), str(ops.facts["backup"].path), yes=True, drop_extra_tables=True)


@then("every row that was there before the migration is back")
def rows_back(ops: OpsLab) -> None:
    after = table_snapshot(ops.current().database_url)
    before = ops.facts["snapshot"]
    differing = [table for table in before if after.get(table) != before[table]]
    assert sorted(after) == sorted(before), f"tables: before {sorted(before)}, after {sorted(after)}"
    assert differing == [], f"tables differ from before the migration: {differing}"


@given("a running version deployed from a git checkout onto a scratch database holding customers' data")
def running_version(world: World, ops: OpsLab) -> None:
    checkout = make_checkout(ops.root)
    redis_url = world.target.redis_url or os.environ.get("REDIS_URL") or None
    target = ops.new_target(
        ops.scratch_database(),
        checkout=checkout,
        service_url=f"http://127.0.0.1:{free_port()}",
        service_env=dict(LOCAL_SERVICE_ENV),
        redis_url=redis_url,
    )
    deploy_to_scratch(ops)
    seed_customer(ops)
    with ops.sql() as connection:  # the customer's failed sync is old news: smoke looks at the last 15 minutes
        connection.execute("UPDATE integrations_sync_logs SET created_at = now() - interval '1 day'")
    ops.facts["previous_sha"] = git_sha(checkout)
    ops.facts["snapshot"] = table_snapshot(target.database_url)


def commit_release(lab: OpsLab, *, broken_logs_route: bool) -> None:
    checkout = lab.current().checkout
    write_schema_release(checkout, broken_logs_route=broken_logs_route)
    git(checkout, "add", ".")
    git(
        checkout,
        "commit",
        "--quiet",
        "-m",
        "a release with a migration" + (", its logs route broken" if broken_logs_route else ""),
    )
    lab.facts["released_sha"] = git_sha(checkout)


@given("a new commit whose migration changes the schema and the data, and whose sync-logs route is broken")
def broken_release_commit(ops: OpsLab) -> None:
    commit_release(ops, broken_logs_route=True)


@given("a new commit whose migration changes the schema and the data")
def release_commit(ops: OpsLab) -> None:
    commit_release(ops, broken_logs_route=False)


# What a scratch stage without a smoke integration, Stripe secret or provider sandbox cannot check: waived
# by name (a skipped smoke check blocks a release otherwise), and so recorded in the release record.
SCRATCH_WAIVERS = ["sync", "stripe webhook", "paypal webhook"]


@when("the new commit is released")
def release_new_commit(ops: OpsLab) -> None:
    try:
        ops.facts["release"] = release(ops.current(), reports_dir=ops.root / "reports", waive=SCRATCH_WAIVERS)
    except OpsError as failed:
        ops.facts["release_failed"] = str(failed)


@given("the new commit was released successfully")
def released_successfully(ops: OpsLab) -> None:
    release_new_commit(ops)
    assert "release_failed" not in ops.facts, f"the release failed: {ops.facts['release_failed']}"
    assert ops.facts["release"]["status"] == "released", f"release record: {ops.facts['release']}"


@then("the release failed its smoke tests and was rolled back automatically")
def rolled_back_automatically(ops: OpsLab) -> None:
    failed = ops.facts.get("release_failed")
    assert failed is not None, f"the broken release was not stopped: {ops.facts.get('release')}"
    assert "smoke tests failed" in failed, f"expected the smoke tests to fail the release: {failed}"
    assert "rolled back" in failed, f"expected an automatic rollback: {failed}"
    records = read_records(ops.current().state_dir / "releases.jsonl")
    assert records, "no release was recorded"
    assert records[-1]["status"] == "failed", f"release records: {records}"
    assert records[-1].get("revision_after") == "9999release", f"the release never migrated: {records[-1]}"


@then("the running version's commit is deployed again, and nothing was reverted or committed in the checkout")
def previous_commit_redeployed(ops: OpsLab) -> None:
    target = ops.current()
    head = git(target.checkout, "rev-parse", "HEAD")
    assert head == ops.facts["released_sha"], f"the rollback changed the checkout's HEAD to {head[:10]}"
    newest = last_deploy(target)
    assert newest is not None, "no deployment is recorded"
    assert newest["sha"] == ops.facts["previous_sha"], f"the last deployment is {newest}, not the running version"
    assert target.service_url, "the rollback left no service URL"
    version = httpx.get(f"{target.service_url}/api/version", timeout=15)
    assert version.json().get("gitSha") == ops.facts["previous_sha"], f"the stage reports {describe(version)}"


@then("the scratch database equals what it was before the release, table by table")
def database_as_before(ops: OpsLab) -> None:
    after = table_snapshot(ops.current().database_url)
    before = ops.facts["snapshot"]
    assert sorted(after) == sorted(before), f"tables: before {sorted(before)}, after {sorted(after)}"
    differing = [table for table in before if after[table] != before[table]]
    assert differing == [], f"tables that differ from before the release: {differing}"


@then("the service deployed last runs the running version's code and answers its health check")
def redeployed(ops: OpsLab) -> None:
    target = ops.current()
    newest = last_deploy(target)
    assert newest is not None, "no deployment is recorded"
    assert newest["sha"] == ops.facts["previous_sha"], f"the last deployment is {newest}"
    deployed_healthy(ops)


@then("the rollback is recorded with its outcome")
def rollback_recorded(ops: OpsLab) -> None:
    records = read_records(ops.current().state_dir / "rollbacks.jsonl")
    assert records, "no rollback was recorded"
    record = records[-1]
    assert record["status"] == "ok", f"the rollback record: {record}"
    assert record.get("finished_at"), f"the rollback record has no end: {record}"
    assert record.get("restored"), f"the rollback record does not say the database was restored: {record}"
    assert record.get("safety_backup"), f"the rollback record does not name the safety backup: {record}"
    assert record["sha"] == ops.facts["previous_sha"], f"the record names {record['sha']}"


@given("this stage's cache holds keys, beside another stage's keys")
def cache_keys(ops: OpsLab) -> None:
    target = ops.current()
    if target.redis_url is None:  # in-process cache only: it lives and dies with the service process
        ops.facts["cache"] = None
        return
    client = redis.Redis.from_url(target.redis_url)
    other = f"integrations:other-{uuid.uuid4().hex[:8]}"
    for number in range(3):
        client.set(f"{target.redis_key_prefix}:cache:{number}", "stale")
    client.set(f"{other}:cache:0", "another stage's")
    ops.cleanups.append(lambda: client.delete(f"{other}:cache:0"))
    ops.cleanups.append(client.close)
    ops.facts["cache"] = (client, other)


@when("the rollback is planned with a dry run")
def rollback_dry_run(ops: OpsLab) -> None:
    ops.facts["plan"] = rollback(ops.current(), dry_run=True)


@then("the plan lists the database restore, the redeployment, the cache clearing and the verification")
def rollback_plan(ops: OpsLab) -> None:
    plan: list[str] = ops.facts["plan"]["plan"]
    cache = "clear cache keys under" if ops.current().redis_url else "no Redis"
    redeploy = f"redeploy {ops.facts['previous_sha'][:10]}"
    for words in ("restore", redeploy, cache, "verify"):
        assert any(words in line for line in plan), f"the plan does not mention {words!r}: {plan}"


@then("the dry run changed nothing")
def dry_run_changed_nothing(ops: OpsLab) -> None:
    target = ops.current()
    assert git_sha(target.checkout) == ops.facts["released_sha"], "the dry run changed the checkout"
    assert alembic_revision(target.database_url) == "9999release", "the dry run changed the database"
    assert read_records(target.state_dir / "rollbacks.jsonl") == [], "the dry run recorded a rollback"


@when("the rollback procedure runs")
def run_rollback(ops: OpsLab) -> None:
    ops.facts["pid_before_rollback"] = json.loads(service_state(ops.current()).read_text())["pid"]
    ops.facts["rollback"] = rollback(ops.current(), yes=True)


@then("this stage's cache keys are gone while the other stage's keys remain")
def cache_cleared(ops: OpsLab) -> None:
    target = ops.current()
    if ops.facts["cache"] is None:  # no Redis: the cache was the old process's memory, which must be gone
        old = ops.facts["pid_before_rollback"]
        assert not psutil.pid_exists(old), f"the service that held the in-process cache (pid {old}) still runs"
        return
    client, other = ops.facts["cache"]
    stale = [f"{target.redis_key_prefix}:cache:{number}" for number in range(3)]
    assert client.exists(*stale) == 0, "this stage's cache keys survived the rollback"
    assert client.get(f"{other}:cache:0") == b"another stage's", "the rollback removed another stage's cache key"
    assert ops.facts["rollback"]["cache_keys_removed"] >= 3, f"rollback record: {ops.facts['rollback']}"


# --- integration issues on the stage's own service (OPS-RB-INTEGRATION) ----------------------------------


@given(parsers.parse('"{name}" has connected a Xero organisation of {invoices:d} invoices and synced them'))
def connected_and_synced(world: World, ops: OpsLab, name: str, invoices: int) -> None:
    user = world.user(name)
    tenant = small_xero_organisation(world, invoices)
    integration = connect_account(world, user, "xero", tenant)
    synced = user.client.post(
        "/api/integrations/sync", json={"integrationId": integration["id"], "dataType": "invoices"}
    )
    assert synced.status_code == 200, f"the first sync: {describe(synced)}"
    ops.facts.update(integration=integration["id"], tenant=tenant, user=name)


@when("Xero fails every invoice request")
def xero_outage(world: World, ops: OpsLab) -> None:
    fault = world.sandbox().post(
        "/faults", json={"provider": "xero", "kind": "error", "path": "/Invoices", "status": 503, "times": None}
    )
    assert fault.status_code in (200, 201), f"injecting the Xero outage: {describe(fault)}"
    fault_id = fault.json()["id"]
    sandbox, verify = world.sandbox_url(), client_verify(world.target.ca_bundle)
    ops.facts["fault"] = fault_id
    ops.cleanups.append(lambda: httpx.delete(f"{sandbox}/_sandbox/faults/{fault_id}", verify=verify))


@when(parsers.parse('"{name}" syncs her Xero invoices {times:d} times'))
def sync_times(world: World, ops: OpsLab, name: str, times: int) -> None:
    client = world.user(name).client
    body = {"integrationId": ops.facts["integration"], "dataType": "invoices"}
    ops.facts["outage_syncs"] = [client.post("/api/integrations/sync", json=body) for _ in range(times)]


@then("every one of those syncs was answered as stopped by the provider")
def syncs_stopped(ops: OpsLab) -> None:
    answers: list[httpx.Response] = ops.facts["outage_syncs"]
    wrong = [describe(answer) for answer in answers if answer.status_code != 502]
    assert wrong == [], f"expected 502 (the provider stopped the run) for each sync: {wrong}"


@then(parsers.parse('the alert "{description}" names Ivy\'s Xero integration'))
def alert_names_integration(world: World, ops: OpsLab, description: str) -> None:
    result = evaluate(stage_target(world))
    [alert] = [alert for alert in result.alerts if alert.description == description]
    named = [row for row in alert.rows if row.get("integration_id") == ops.facts["integration"]]
    assert alert.firing, f"expected {description!r} to fire"
    assert named, f"expected {description!r} to name {ops.facts['integration']}: {alert.rows[:10]}"


@then("Ivy's sync logs show Xero's failure for the investigation")
def logs_show_failure(world: World, ops: OpsLab) -> None:
    answer = world.user(ops.facts["user"]).client.get(
        "/api/integrations/logs", params={"integrationId": ops.facts["integration"], "status": "failed"}
    )
    assert answer.status_code == 200, describe(answer)
    logs = answer.json()["logs"]
    assert len(logs) == 3, f"expected the 3 failed syncs in the logs: {describe(answer)}"
    assert all("503" in (log["errorMessage"] or "") for log in logs), f"the logs do not say why: {logs}"


@when("Ivy's Xero integration is disabled")
def disable_integration(world: World, ops: OpsLab) -> None:
    answer = world.user(ops.facts["user"]).client.patch(
        f"/api/integrations/{ops.facts['integration']}", json={"isActive": False}
    )
    assert answer.status_code == 200, describe(answer)
    assert answer.json()["integration"]["isActive"] is False, describe(answer)


@then("a sync of Ivy's Xero integration is refused while it is disabled")
def disabled_sync_refused(world: World, ops: OpsLab) -> None:
    answer = world.user(ops.facts["user"]).client.post(
        "/api/integrations/sync", json={"integrationId": ops.facts["integration"], "dataType": "invoices"}
    )
    assert answer.status_code == 409, f"expected a disabled integration's sync refused with 409: {describe(answer)}"


@when(parsers.parse("Xero recovers, having gained {added:d} invoices during the outage"))
def xero_recovers(world: World, ops: OpsLab, added: int) -> None:
    control = world.sandbox()
    removed = control.delete(f"/faults/{ops.facts['fault']}")
    assert removed.status_code in (200, 204), describe(removed)
    mutated = control.post(f"/tenants/xero/{ops.facts['tenant']}/mutations", json={"add": added})
    assert mutated.status_code in (200, 201), describe(mutated)


@when("Ivy's Xero integration is enabled again and synced by hand")
def enable_and_sync(world: World, ops: OpsLab) -> None:
    client = world.user(ops.facts["user"]).client
    enabled = client.patch(f"/api/integrations/{ops.facts['integration']}", json={"isActive": True})
    assert enabled.status_code == 200, describe(enabled)
    synced = client.post(
        "/api/integrations/sync", json={"integrationId": ops.facts["integration"], "dataType": "invoices"}
    )
    assert synced.status_code == 200, f"the manual sync after the recovery: {describe(synced)}"


@then(parsers.parse("every one of the organisation's {invoices:d} invoices is stored once for Ivy"))
def every_invoice_once(world: World, ops: OpsLab, invoices: int) -> None:
    with psycopg.connect(stage_target(world).database_url) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [ops.facts["integration"]],
        ).fetchone()
    assert row == (invoices, invoices), f"expected {invoices} invoices each stored once, got (rows, distinct) {row}"


# --- load test measurements (left by the release gate's load run) --------------------------------------

COLOCATED_THRESHOLDS = PROJECT_ROOT / "load" / "thresholds-colocated.toml"


def load_dir(world: World) -> Path:
    return world.target.run_dir / "load"


@given("the release gate's load test measurements")
def load_measurements(world: World, ops: OpsLab) -> None:
    results = load_dir(world) / "load-results.json"
    if not results.exists():
        pytest.skip(f"the load gate did not run in this gate run (no {results}): nothing was measured to judge")
    ops.facts["load"] = json.loads(results.read_text(encoding="utf-8"))
    summary = load_dir(world) / "resources-summary.json"
    ops.facts["resources"] = json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else {}


def operation_stats(ops: OpsLab, operation: str) -> dict[str, Any]:
    stats = ops.facts["load"]["operations"].get(operation)
    assert stats is not None, f"nothing was measured for {operation!r}: {sorted(ops.facts['load']['operations'])}"
    assert stats["requests"] > 0, f"{operation!r} had no request in the measured window"
    return dict(stats)


@then(parsers.parse("the load test ran {users:d} concurrent users"))
def load_users(ops: OpsLab, users: int) -> None:
    load = ops.facts["load"]
    assert load["users"] == users, f"expected {users} concurrent users, the load test ran {load['users']}"
    assert load["window_s"] > 0, f"the load test measured no window: {load['window_s']}"


@then(parsers.parse('"{operation}" was requested under load and failed in fewer than {percent:g} % of requests'))
def operation_fail_rate(ops: OpsLab, operation: str, percent: float) -> None:
    stats = operation_stats(ops, operation)
    assert stats["fail_rate"] < percent / 100, f"{operation!r} failed {100 * stats['fail_rate']:.2f} %: {stats}"


@then("response times were measured for every operation of the checklist's performance targets")
def every_target_measured(ops: OpsLab) -> None:
    targets = tomllib.loads(COLOCATED_THRESHOLDS.read_text(encoding="utf-8"))["operations"]
    for operation in targets:
        stats = operation_stats(ops, operation)
        assert all(stats[p] > 0 for p in ("p50", "p95", "p99")), f"{operation!r} has no response times: {stats}"


@then("the database connections, memory and CPU of the service were sampled during the load test")
def resources_sampled(ops: OpsLab) -> None:
    resources = ops.facts["resources"]
    assert resources.get("samples", 0) > 0, f"no resource samples were taken during the load test: {resources}"
    for figure in (
        "db_connections_peak",
        "service_db_connections_peak",
        "service_rss_mb_peak",
        "service_cpu_percent_avg",
    ):
        assert isinstance(resources.get(figure), int | float), f"{figure} was not recorded: {resources}"
    assert resources["service_rss_mb_peak"] > 0, f"no memory figure: {resources}"
    assert resources["db_connections_peak"] > 0, f"no database connection figure: {resources}"


@then("the service's database connections stayed within its connection pool's limit")
def pool_within_limit(ops: OpsLab) -> None:
    resources = ops.facts["resources"]
    peak, limit = resources.get("service_db_connections_peak"), resources.get("pool_limit")
    assert isinstance(peak, int | float), f"the connection peak is missing: {resources}"
    assert isinstance(limit, int | float), f"the pool limit is missing: {resources}"
    assert peak <= limit, f"the service held {peak} database connections, its pool allows {limit}"


@then(parsers.parse("the service's memory stayed below {gigabytes:d} GB under load"))
def memory_bounded(ops: OpsLab, gigabytes: int) -> None:
    peak = ops.facts["resources"].get("service_rss_mb_peak")
    assert isinstance(peak, int | float), f"the memory peak is missing: {ops.facts['resources']}"
    assert peak < gigabytes * 1024, f"the service's memory peaked at {peak} MB"


@then(parsers.parse('the release gate\'s thresholds hold "{operation}" to its checklist target of {target:d} ms'))
def thresholds_hold_target(ops: OpsLab, operation: str, target: int) -> None:
    entry = tomllib.loads(COLOCATED_THRESHOLDS.read_text(encoding="utf-8"))["operations"].get(operation, {})
    assert entry.get("target_ms") == target, f"{COLOCATED_THRESHOLDS.name} sets {operation!r} target {entry}"
    assert f"p50<{target}" in entry.get("thresholds", []), f"{COLOCATED_THRESHOLDS.name}: {operation!r} {entry}"
    used = ops.facts["load"]["targets_ms"].get(operation)
    assert used == target, f"the load run judged {operation!r} against {used} ms, not {target} ms"


@then(parsers.parse('the median response time of "{operation}" under load was below {target:d} ms'))
def median_below(ops: OpsLab, operation: str, target: int) -> None:
    stats = operation_stats(ops, operation)
    assert stats["p50"] < target, f"{operation!r}: median {stats['p50']} ms, target {target} ms ({stats})"


@then(parsers.parse('every threshold on "{operation}" held under load'))
def thresholds_held(ops: OpsLab, operation: str) -> None:
    table = thresholds.load_table(COLOCATED_THRESHOLDS)
    window = {name: window_stats(stats) for name, stats in ops.facts["load"]["operations"].items()}
    verdicts = [v for v in thresholds.judge(table, window) if v.target == operation]
    assert verdicts, f"{COLOCATED_THRESHOLDS.name} has no threshold on {operation!r}"
    broken = [v.describe() for v in verdicts if not v.passed]
    assert broken == [], f"thresholds breached: {broken}"


def window_stats(stats: dict[str, Any]) -> thresholds.WindowStats:
    names = ("requests", "failures", "p50", "p90", "p95", "p99", "avg", "max")
    return thresholds.WindowStats(**{name: stats[name] for name in names})


def overall(ops: OpsLab) -> dict[str, Any]:
    return operation_stats(ops, thresholds.OVERALL)


@then(parsers.parse("at least {percent:g} % of all requests under load succeeded"))
def overall_success(ops: OpsLab, percent: float) -> None:
    stats = overall(ops)
    succeeded = 100 * (1 - stats["fail_rate"])
    assert succeeded >= percent, f"{succeeded:.2f} % of {stats['requests']} requests succeeded, expected {percent} %"


@then(parsers.re(r"the (?P<nth>95|99)th percentile of all requests under load was below (?P<limit>\d+) ms"))
def overall_percentile(ops: OpsLab, nth: str, limit: str) -> None:
    stats = overall(ops)
    assert stats[f"p{nth}"] < int(limit), f"p{nth} of all requests was {stats[f'p{nth}']} ms, limit {limit} ms"
