"""Gate state every runner of a stage can see: sign-offs and gate results, in the `release_gate` schema of
a PostgreSQL database (the stage's own unless GATE_STORE_URL names another).

The harness creates the schema when it first writes (not the service's Alembic migrations); backups and
restores leave it out, so rolling the service's data back never loses a sign-off. Rows are only ever
added: the newest sign-off of a role for a commit counts, and the older ones remain as history.

To let production's runner see staging's results, point both stages' GATE_STORE_URL at one database
(or carry the staging report to the production job as a CI artefact).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from harness.core.paths import PROJECT_ROOT
from harness.core.proofs import StoreLookup
from harness.core.settings import stage_settings
from harness.core.stages import Stage
from harness.ops.common import OpsError, mask
from harness.ops.pgtools import GATE_SCHEMA

# checklist id -> the role that attests it
ATTESTATION_IDS: dict[str, str] = {
    "SIGN-01": "qa",
    "SIGN-02": "security",
    "SIGN-03": "devops",
    "SIGN-04": "product",
    "MONTH-04": "maintenance",
}

# The queries below name the schema literally: it is GATE_SCHEMA, which the dumps leave out.
_SCHEMA = f"""
CREATE SCHEMA IF NOT EXISTS {GATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {GATE_SCHEMA}.signoffs (
    id bigserial PRIMARY KEY,
    commit text NOT NULL,
    stage text NOT NULL,
    role text NOT NULL,
    name text NOT NULL,
    source text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS signoffs_commit ON {GATE_SCHEMA}.signoffs (commit);
CREATE TABLE IF NOT EXISTS {GATE_SCHEMA}.gate_results (
    id bigserial PRIMARY KEY,
    commit text NOT NULL,
    stage text NOT NULL,
    run_id text NOT NULL,
    verdict text NOT NULL,
    partial boolean NOT NULL,
    recorded_by text NOT NULL,
    report jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS gate_results_commit ON {GATE_SCHEMA}.gate_results (commit, stage);
"""


def gate_store_url(stage: Stage, project_root: Path = PROJECT_ROOT) -> str | None:
    """GATE_STORE_URL, else the stage's DATABASE_URL; the local stage uses a store only when GATE_STORE_URL
    is set (otherwise its files under .stack/ops/)."""
    settings = stage_settings(stage, project_root)
    if settings.gate_store_url is not None and settings.gate_store_url.get_secret_value().strip():
        return settings.gate_store_url.get_secret_value().strip()
    if stage == "local" or settings.database_url is None:
        return None
    return settings.database_url.get_secret_value().strip() or None


@contextmanager
def _connected(url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A connection with the schema in place. Two runners creating it at once are serialised by a lock."""
    try:
        with psycopg.connect(url, row_factory=dict_row, connect_timeout=15) as connection:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [GATE_SCHEMA])
                connection.execute(_SCHEMA)
            yield connection
    except psycopg.errors.InsufficientPrivilege as exc:
        raise OpsError(
            f"the gate store {mask(url)} refuses the harness ({exc.diag.message_primary}): create the schema "
            f"{GATE_SCHEMA} once as its owner, or point GATE_STORE_URL at a database the harness may write"
        ) from None
    except psycopg.OperationalError as exc:
        raise OpsError(f"the gate store {mask(url)} cannot be reached: {str(exc).strip()[:300]}") from None


def ensure(url: str) -> None:
    """The store answers and has its tables (created when missing); OpsError saying why not."""
    with _connected(url):
        pass


def record_signoff(url: str, *, commit: str, stage: str, role: str, name: str, source: str) -> dict[str, Any]:
    with _connected(url) as connection:
        row = connection.execute(
            "INSERT INTO release_gate.signoffs (commit, stage, role, name, source) VALUES (%s, %s, %s, %s, %s) "
            "RETURNING commit, stage, role, name, source, recorded_at",
            [commit, stage, role, name, source],
        ).fetchone()
    assert row is not None
    return dict(row)


def signoff_records(url: str, commit: str) -> dict[str, dict[str, Any]]:
    """Role -> the newest sign-off of that role for this commit (name, source, stage, recorded_at)."""
    with _connected(url) as connection:
        rows = connection.execute(
            "SELECT DISTINCT ON (role) role, name, source, stage, recorded_at FROM release_gate.signoffs "
            "WHERE commit = %s ORDER BY role, recorded_at DESC, id DESC",
            [commit],
        ).fetchall()
    return {str(row["role"]): dict(row) for row in rows}


def signoffs(url: str, commit: str) -> dict[str, str]:
    """Checklist id -> "who at when, as role (source)" for every attestation recorded for this commit."""
    records = signoff_records(url, commit)
    return {
        checklist_id: describe_signoff(records[role])
        for checklist_id, role in ATTESTATION_IDS.items()
        if role in records
    }


def describe_signoff(record: dict[str, Any]) -> str:
    moment = record["recorded_at"]
    when = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(moment, datetime) else moment
    return f"{record['name']} at {when}, as {record['role']} ({record['source']})"


def record_gate_result(
    url: str,
    *,
    commit: str,
    stage: str,
    run_id: str,
    verdict: str,
    partial: bool,
    recorded_by: str,
    report: dict[str, Any],
) -> None:
    with _connected(url) as connection:
        connection.execute(
            "INSERT INTO release_gate.gate_results (commit, stage, run_id, verdict, partial, recorded_by, report) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [commit, stage, run_id, verdict, partial, recorded_by, Jsonb(report)],
        )


def passing_gate_result(url: str, *, commit: str, stage: str) -> dict[str, Any] | None:
    """The report of the newest complete (not partial) passing gate of this commit on this stage."""
    with _connected(url) as connection:
        row = connection.execute(
            "SELECT report FROM release_gate.gate_results WHERE commit = %s AND stage = %s AND verdict = 'pass' "
            "AND NOT partial ORDER BY recorded_at DESC, id DESC LIMIT 1",
            [commit, stage],
        ).fetchone()
    return None if row is None else dict(row["report"])


def store_lookup(url: str) -> StoreLookup:
    """The store as `harness.core.proofs` asks it: the newest passing complete run of (commit, stage). A store
    that cannot answer proves nothing (the preflight gate has said why): the run's report is still written."""

    def lookup(commit: str, stage: Stage) -> dict[str, Any] | None:
        try:
            return passing_gate_result(url, commit=commit, stage=stage)
        except OpsError:
            return None

    return lookup
