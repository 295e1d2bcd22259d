"""Read-only checks of a production stage (@production): ENV-05, PAYPAL-07, OPS-PRD-VERIFY, OPS-PRD-DB,
OPS-PRD-ENV and OPS-PRD-DEPLOY, proved on the stage itself without changing anything there.

- Settings: the service's own report (`GET /api/config-check`, steps/code_and_docs/config_report.py), never its secrets.
  On a stage whose providers are the provider sandbox (a production stand-in: QA_SANDBOX_URL set) PayPal
  cannot be live; there the service must name sandbox mode as not production's, which shows the switch is
  read and judged by production's rule. Whether the keys are live keys stays a person's check.
- Approvals and staging's verdict: the stage's gate store (GATE_STORE_URL, else the stage's database),
  read in a read-only transaction: a complete passing staging gate of the commit under test, and every
  attestation recorded for it.
- The deployment: `GET /api/version` names the commit under test and the stage.
- The database: the live migration revision (steps/api_and_database/database.py) and the release record of the commit
  (the runner's `.stack/ops/releases.jsonl`) with the backup it took before migrating, whose manifest the
  runner lists; without a release record readable here, a backup of the stage for this commit taken
  before a migration.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from pytest_bdd import parsers, then, when

from harness.core.stages import parse_stage
from harness.ops.backup import list_backups
from harness.ops.common import git_sha, read_records
from harness.ops.gate_store import ATTESTATION_IDS, gate_store_url
from harness.ops.pgtools import GATE_SCHEMA
from harness.ops.rollback import release_log
from harness.ops.targets import stage_target
from steps.code_and_docs.config_report import ServiceConfig
from steps.common import World, describe

PAYPAL_NOT_LIVE = "PAYPAL_MODE must be live in production"


def commit_under_test(world: World) -> str:
    return git_sha(world.target.project_root)


# --- settings: the service's own report --------------------------------------------------------------


@then(
    parsers.parse(
        'the service runs as "{stage}" with every setting it needs set and valid, and PayPal\'s mode as '
        "production requires of the stage's PayPal, among them:"
    )
)
def production_settings(world: World, service_config: ServiceConfig, stage: str, datatable: list[list[str]]) -> None:
    reported = service_config.read()
    assert reported.get("stage") == stage, f"the service runs as {reported.get('stage')!r}, not {stage!r}"
    settings = {entry["name"]: entry for entry in reported.get("settings", [])}
    expected = [row[0] for row in datatable[1:]]
    unreported = [name for name in expected if name not in settings]
    assert not unreported, f"the report does not cover {unreported}; it names {sorted(settings)}"
    mode = settings.get("PAYPAL_MODE")
    assert mode is not None, "the service does not report PAYPAL_MODE: its PayPal mode switch cannot be read"
    if world.target.sandbox_url is not None:
        # A stand-in whose PayPal is the provider sandbox: live mode cannot hold; the service must say so.
        assert (mode["status"], mode.get("problem")) == ("invalid", PAYPAL_NOT_LIVE), (
            f"the stage's PayPal is the provider sandbox, so the service must report PAYPAL_MODE as "
            f"{PAYPAL_NOT_LIVE!r}; it reports {mode}"
        )
        settings.pop("PAYPAL_MODE")
    wrong = [f"{name}: {e['status']} ({e.get('problem')})" for name, e in settings.items() if e["status"] != "ok"]
    assert not wrong, f"the {stage} service's settings are not complete: " + "; ".join(wrong)
    extra = {key for entry in reported.get("settings", []) for key in entry} - {"name", "status", "problem"}
    assert not extra, f"the report's settings carry more than their name and state: {sorted(extra)}"


# --- the deployment ---------------------------------------------------------------------------------


@when("the stage is asked which build it runs", target_fixture="version")
def ask_version(world: World) -> dict[str, Any]:
    response = world.client().get("/api/version")
    assert response.status_code == 200, f"GET /api/version: {describe(response)}"
    body: dict[str, Any] = response.json()
    return body


@then(parsers.parse('it runs the commit under test, as "{stage}"'))
def runs_commit_under_test(world: World, version: dict[str, Any], stage: str) -> None:
    expected = commit_under_test(world)
    seen = (version.get("gitSha"), version.get("stage"))
    assert seen == (expected, stage), f"the stage runs {seen}; the commit under test is {expected} on {stage}"


# --- the gate store: staging's verdict and the approvals --------------------------------------------


def _store_rows(world: World, query: str, params: list[Any]) -> list[dict[str, Any]]:
    url = gate_store_url(parse_stage(world.target.stage), world.target.project_root)
    if url is None:
        pytest.fail("the stage has no gate store: set GATE_STORE_URL (or DATABASE_URL) for the stage")
    with psycopg.connect(url, row_factory=dict_row, connect_timeout=15) as connection:
        connection.read_only = True  # this scenario reads; it never writes the store
        exists = connection.execute("SELECT to_regnamespace(%s) IS NOT NULL AS found", [GATE_SCHEMA]).fetchone()
        if not exists or not exists["found"]:
            pytest.fail(f"the gate store holds no {GATE_SCHEMA} schema: no gate result nor sign-off was recorded")
        return list(connection.execute(query, params).fetchall())


@then("the gate store holds a complete, passing staging gate of the commit under test")
def staging_gate_recorded(world: World) -> None:
    sha = commit_under_test(world)
    rows = _store_rows(
        world,
        "SELECT run_id, verdict, partial, recorded_at FROM release_gate.gate_results "
        "WHERE commit = %s AND stage = 'staging' ORDER BY recorded_at, id",
        [sha],
    )
    passing = [row for row in rows if row["verdict"] == "pass" and not row["partial"]]
    assert passing, (
        f"no complete passing staging gate of {sha[:10]} in the gate store (staging runs of it: "
        f"{[(row['run_id'], row['verdict'], 'partial' if row['partial'] else 'complete') for row in rows]})"
    )


@then("the gate store holds every attestation of the checklist for the commit under test")
def attestations_recorded(world: World) -> None:
    sha = commit_under_test(world)
    rows = _store_rows(world, "SELECT DISTINCT role FROM release_gate.signoffs WHERE commit = %s", [sha])
    recorded = {str(row["role"]) for row in rows}
    missing = [f"{item} ({role})" for item, role in ATTESTATION_IDS.items() if role not in recorded]
    assert not missing, f"sign-offs missing for {sha[:10]}: {', '.join(missing)}"


# --- the database: migrated to head, backed up before the migration ---------------------------------


@then("the release of the commit under test to the stage took a backup before migrating to that revision")
def release_backed_up(world: World, live_revision: str | None) -> None:
    assert live_revision, "the stage's migration revision was not read (or the database has none)"
    sha, stage = commit_under_test(world), parse_stage(world.target.stage)
    target = stage_target(stage)
    listed = {str(backup.path): backup for backup in list_backups(target)}
    releases = [
        record
        for record in read_records(release_log(target))
        if record.get("stage") == stage and record.get("sha") == sha and record.get("status") == "released"
    ]
    if releases:
        record = releases[-1]
        backup = listed.get(str(record.get("backup")))
        assert backup is not None, f"the release {record['id']} names the backup {record.get('backup')}, not listed"
        assert backup.manifest.get("alembic_revision") == record.get("revision_before"), (
            f"the backup is of revision {backup.manifest.get('alembic_revision')}, the release migrated from "
            f"{record.get('revision_before')}"
        )
        # status "released": its migration's row-count check found no loss (harness.ops.migrate)
        assert record.get("revision_after") == live_revision, (
            f"the release migrated to {record.get('revision_after')}, the stage's database is at {live_revision}"
        )
        return
    # No release record on this runner: a backup of the stage for this commit, taken before a migration.
    before = [
        backup
        for backup in listed.values()
        if backup.manifest.get("git_sha") == sha and str(backup.manifest.get("reason", "")).startswith("before ")
    ]
    assert before, (
        f"no release of {sha[:10]} to {stage} is recorded in {release_log(target)}, and no backup of {stage} "
        f"for it taken before a migration is listed in {target.backups_dir}: release with `invoke release "
        f"--stage {stage}` on this runner (or carry .stack/ops/releases.jsonl and backups/ to the QA job)"
    )
