"""What the operational checklist's step modules share (deployment procedures, monitoring, weekly/monthly
checks, rollback, sign-off, load and benchmarks): the scenario's lab (`OpsLab`, the `ops` fixture), the
seeding of scratch databases over SQL, and the stage's own target for read-only checks.

A procedure is proved by running the real harness operation (`harness.ops.*`, what `invoke <task>`
calls) and checking its outcome, not only that it returned. Destructive procedures (migrate, restore,
rollback, deploy) run on scratch databases created on the stage's server from a migrated template,
with their own state and backup folders and, where git is involved, a scratch checkout of the
service: never on the stage's live database or this repository. Everything a scenario creates is
removed when it ends (`OpsLab`). Monitoring and reports run on scratch databases seeded over SQL with
exactly the rows a scenario's tables describe.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory
from psycopg import sql
from pytest_bdd import given, parsers
from rich.console import Console

from harness.core.database import create_database, drop_database, with_database
from harness.core.paths import PROJECT_ROOT
from harness.core.stages import parse_stage
from harness.gates.scenario_target import ScenarioTarget
from harness.ops.common import Target
from harness.ops.deploy import stop_local
from harness.ops.migrate import run_alembic
from steps.common import World
from steps.support.ops_facts import OpsFacts

MIGRATIONS_DIR = PROJECT_ROOT / "src" / "integration_service" / "db" / "migrations"


SQL = psycopg.Connection[tuple[Any, ...]]


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
    facts: OpsFacts = field(default_factory=OpsFacts)

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


# --- a customer's data, for the migration and rollback scenarios --------------------------------------


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


# --- the stage itself, for read-only checks -----------------------------------------------------------


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
