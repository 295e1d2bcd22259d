"""Steps of the deployment and rollback procedures proved on a deployed stage without changing it: the build
and migration revision the stage runs, a backup of its database restored (and migrated, and rolled back) on
scratch databases of the scenario's own, its configuration report, the rollback plan made from what it runs,
its cache cleared for the scenario's own keys only, and the smoke tests with a user of the scenario's own.

Nothing here deploys, migrates, restores or rolls back the stage itself: those operations run on scratch
databases created on the stage's server (removed with the scenario, `OpsLab`), and the stage is only read.
"""

from __future__ import annotations

import subprocess
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import redis
from pytest_bdd import given, parsers, then, when
from rich.console import Console

from harness.core.database import create_database
from harness.core.paths import PROJECT_ROOT
from harness.core.stages import parse_stage
from harness.ops.backup import Backup, compare_counts, create_backup
from harness.ops.cache import clear_stage_cache
from harness.ops.common import Target, git, git_sha
from harness.ops.deploy import deployed_sha
from harness.ops.migrate import MigrationResult, migrate, run_alembic
from harness.ops.pgtools import alembic_revision, find_tools, libpq_args, row_counts
from harness.ops.restore import restore
from harness.ops.rollback import plan_rollback, rollback_log
from steps.common import World, describe
from steps.support.lab import OpsLab, head_revision, previous_revision, seed_log

ON_CALL = "the on-call channel"


def live_target(world: World, ops: OpsLab) -> Target:
    """The stage itself, read-only: its database, service and cache prefix; state and backups in the lab."""
    if world.target.database_url is None:
        raise AssertionError("QA_DATABASE_URL is not set: these procedures read the stage's database")
    return Target(
        stage=parse_stage(world.target.stage),
        database_url=world.target.database_url,
        checkout=PROJECT_ROOT,
        state_dir=ops.root / "ops",
        backups_dir=ops.root / "backups",
        service_url=world.target.service_url,
        ca_bundle=world.target.ca_bundle,
        redis_url=world.target.redis_url,
        redis_key_prefix=world.target.redis_key_prefix or f"integrations:{world.target.stage}",
        sandbox_url=world.target.sandbox_url,
        stripe_webhook_secret=world.target.stripe_webhook_secret,
        console=Console(stderr=True, width=160),
    )


def scratch_target(ops: OpsLab, database_url: str, stage: str = "local") -> Target:
    return Target(
        stage=parse_stage(stage),
        database_url=database_url,
        checkout=PROJECT_ROOT,
        state_dir=ops.root / "ops",
        backups_dir=ops.root / "backups",
        console=Console(stderr=True, width=160),
    )


def own_rows(database_url: str, integration_id: str) -> tuple[Any, ...]:
    """The scenario's integration and its sync logs, as stored: what a copy of the database must hold."""
    with psycopg.connect(database_url) as connection:
        integration = connection.execute(
            "SELECT id, user_id, integration_type, integration_name, is_active FROM integrations_credentials "
            "WHERE id = %s",
            [integration_id],
        ).fetchall()
        logs = connection.execute(
            "SELECT id, status, synced_records FROM integrations_sync_logs WHERE integration_id = %s ORDER BY id",
            [integration_id],
        ).fetchall()
    return tuple(integration), tuple(logs)


# --- the build and the revision the stage runs ---------------------------------------------------------


# "the stage is asked which build it runs" (target_fixture "version"): production_readiness.py.


@then(parsers.parse('the stage runs the checkout\'s commit as "{stage}"'))
def runs_checkout_commit(world: World, version: dict[str, Any], stage: str) -> None:
    sha = git_sha(world.target.project_root)
    assert version.get("gitSha") == sha, f"the stage runs {version.get('gitSha')}, the commit under test is {sha}"
    assert version.get("stage") == stage == world.target.stage, f"the service runs as {version.get('stage')!r}"


@then("the stage answers its health check with its database reachable")
def stage_healthy(world: World) -> None:
    answer = world.client().get("/api/health")
    assert answer.status_code == 200, describe(answer)
    body = answer.json()
    assert body.get("status") == "ok", f"expected a healthy stage: {describe(answer)}"
    assert body.get("checks", {}).get("database") == "ok", f"expected its database reachable: {describe(answer)}"


@then("the stage's database is at the checkout's newest migration and its schema matches the code's models")
def stage_at_head(world: World, ops: OpsLab) -> None:
    target = live_target(world, ops)
    revision = alembic_revision(target.database_url)
    assert revision == head_revision(), (
        f"the stage's database is at {revision}, the checkout's newest is {head_revision()}"
    )
    run_alembic(target, "check")  # read-only: raises when the live schema differs from the models


# --- the stage's database backed up, restored and migrated on scratch copies --------------------------


@given(parsers.parse('"{name}" has an integration of her own on the stage, with two sync logs'))
def own_integration(world: World, ops: OpsLab, name: str) -> None:
    user = world.user(name)
    assert world.target.database_url is not None
    with psycopg.connect(world.target.database_url, autocommit=True) as connection:
        row = connection.execute("SELECT id FROM users WHERE name = %s", [user.account]).fetchone()
        assert row is not None, f"the scenario's user {user.account} is not on the stage"
        created = connection.execute(
            "INSERT INTO integrations_credentials (user_id, integration_type, integration_name, sync_status, is_active)"
            " VALUES (%s, 'XERO', %s, 'IDLE', true) RETURNING id",
            [row[0], f"books-{uuid.uuid4().hex[:6]}"],
        ).fetchone()
        assert created is not None
        integration = (str(created[0]), str(row[0]), "XERO")
        seed_log(connection, integration, "success", records=3, age="3 hours")
        seed_log(connection, integration, "success", records=1, age="2 hours")
    answer = user.client.get(f"/api/integrations/{integration[0]}")
    assert answer.status_code == 200, f"{name} cannot see her integration through the API: {describe(answer)}"
    ops.facts.integration, ops.facts.owner = integration[0], user.account


@given("the stage's database is backed up")
@when("the stage's database is backed up")
def back_up_stage(world: World, ops: OpsLab) -> None:
    ops.facts.backup = create_backup(live_target(world, ops), reason="staging rehearsal")


@then("the backup's manifest names the stage's migration revision and the checkout's commit")
def manifest_names(world: World, ops: OpsLab) -> None:
    backup: Backup = ops.facts.backup
    revision = alembic_revision(live_target(world, ops).database_url)
    assert backup.manifest["alembic_revision"] == revision, f"manifest: {backup.manifest['alembic_revision']}"
    assert backup.manifest["git_sha"] == git_sha(PROJECT_ROOT), f"manifest: {backup.manifest['git_sha']}"
    assert backup.manifest["row_counts"].get("integrations_credentials", 0) >= 1, backup.manifest["row_counts"]


@when("the backup is restored into a scratch database of the scenario's own")
def restore_into_scratch(ops: OpsLab) -> None:
    backup: Backup = ops.facts.backup
    name = f"ops_copy_{uuid.uuid4().hex[:12]}"
    url = create_database(ops.server_url, name)
    ops.databases.append(name)
    tools = find_tools(url)
    restored = subprocess.run(  # noqa: S603 - pg_restore of the scenario's own archive
        [tools.pg_restore, "--no-owner", "--single-transaction", "--exit-on-error", *libpq_args(url), str(backup.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restored.returncode == 0, f"the backup does not restore: {restored.stderr[-1000:]}"
    ops.facts.copy = url
    ops.facts.copy_counts = row_counts(url)


@then(
    parsers.parse(
        "the scratch copy holds exactly the rows the backup's manifest counts, {name}'s integration among them"
    )
)
def copy_as_manifest(world: World, ops: OpsLab, name: str) -> None:
    backup: Backup = ops.facts.backup
    differences = compare_counts(backup.manifest["row_counts"], ops.facts.copy_counts)
    assert differences == [], f"the restored copy differs from the backup's manifest: {differences}"
    assert world.target.database_url is not None
    mine = own_rows(ops.facts.copy, ops.facts.integration)
    assert mine[0], f"the copy lacks {name}'s integration: {mine}"
    assert len(mine[1]) == 2, f"the copy lacks {name}'s two sync logs: {mine}"
    assert mine == own_rows(world.target.database_url, ops.facts.integration), "the copy's rows differ from the stage's"


@when("the checkout's migrations are run on the scratch copy")
def migrate_copy(ops: OpsLab) -> None:
    ops.facts.migration = migrate(scratch_target(ops, ops.facts.copy))


@then(
    "the scratch copy is at the code's newest migration, its schema matches the code's models, and no table lost a row"
)
def copy_migrated(ops: OpsLab) -> None:
    result: MigrationResult = ops.facts.migration
    assert result.backup is not None, "the migration procedure took no backup of the copy first"
    target = scratch_target(ops, ops.facts.copy)
    assert alembic_revision(target.database_url) == head_revision(), f"the copy is at {result.after}"
    run_alembic(target, "check")
    after = row_counts(target.database_url)
    lost = {t: (n, after.get(t, 0)) for t, n in ops.facts.copy_counts.items() if after.get(t, 0) < n}
    assert lost == {}, f"tables lost rows in the migration (before, after): {lost}"


@when(parsers.parse("{name}'s integration is deleted from the scratch copy"))
def damage_copy(ops: OpsLab, name: str) -> None:
    with psycopg.connect(ops.facts.copy, autocommit=True) as connection:
        connection.execute("DELETE FROM integrations_sync_logs WHERE integration_id = %s", [ops.facts.integration])
        connection.execute("DELETE FROM integrations_credentials WHERE id = %s", [ops.facts.integration])
    assert own_rows(ops.facts.copy, ops.facts.integration) == ((), ()), f"{name}'s rows are still there"


@when("the backup is restored over the scratch copy by the restore procedure")
def restore_over_copy(world: World, ops: OpsLab) -> None:
    target = scratch_target(ops, ops.facts.copy, stage=world.target.stage)  # a backup restores to its own stage
    restore(target, str(ops.facts.backup.path), yes=True, drop_extra_tables=True)
    ops.facts.copy_counts = row_counts(ops.facts.copy)


# --- the rollback plan, from what the stage runs ---------------------------------------------------------


@when("the rollback of a release from the commit before the stage's to the stage's commit is planned")
def plan_stage_rollback(world: World, ops: OpsLab) -> None:
    target = live_target(world, ops)
    backup: Backup = ops.facts.backup
    live = deployed_sha(world.target.service_url, target.verify)
    previous = git(PROJECT_ROOT, "rev-parse", f"{live}~1")  # the commit the release replaced
    release = {
        "id": f"qa-{uuid.uuid4().hex[:8]}",
        "stage": target.stage,
        "sha": live,
        "previous_sha": previous,
        "revision_before": previous_revision(),
        "backup": str(backup.path),
    }
    ops.facts.previous_sha, ops.facts.live_sha = previous, live
    ops.facts.revision = alembic_revision(target.database_url)
    ops.facts.plan = plan_rollback(target, release, notify=[ON_CALL])


@then(
    "the plan reverts to the previous commit and redeploys it, restores that backup, clears only this stage's cache "
    "and verifies"
)
def plan_names(world: World, ops: OpsLab) -> None:
    plan: dict[str, Any] = ops.facts.plan
    target = live_target(world, ops)
    assert plan["live_sha"] == ops.facts.live_sha, f"the plan was not made from what the stage runs: {plan}"
    assert "reported by" in plan["sha_source"], f"the stage's commit came from elsewhere: {plan['sha_source']}"
    assert plan["live_revision"] == head_revision(), f"the plan read revision {plan['live_revision']}"
    assert (plan["revert_to"], plan["redeploy"]) == (ops.facts.previous_sha,) * 2, f"plan: {plan}"
    assert plan["restore"] == str(ops.facts.backup.path), f"the plan restores {plan['restore']}"
    wanted = f"{target.redis_key_prefix.rstrip(':')}:*" if target.redis_url else None
    assert plan["clear_cache"] == wanted, f"the plan clears {plan['clear_cache']}, expected {wanted}"
    steps = plan["steps"]
    for words in (f"redeploy {ops.facts.previous_sha[:10]}", ops.facts.backup.path.name, "verify", "notify"):
        assert any(words in line for line in steps), f"the plan's steps do not mention {words!r}: {steps}"


@then(parsers.parse("the plan notifies {whom} and {name}, whose integration is active on the stage"))
def plan_notifies(ops: OpsLab, whom: str, name: str) -> None:
    notified = ops.facts.plan["notify"]
    assert whom in notified, f"the plan does not notify {whom}: {notified}"
    assert ops.facts.owner in notified, f"the plan does not notify {name} ({ops.facts.owner}): {notified}"


@then("planning changed nothing on the stage")
def planning_changed_nothing(world: World, ops: OpsLab) -> None:
    target = live_target(world, ops)
    assert deployed_sha(world.target.service_url, target.verify) == ops.facts.live_sha, "the stage was redeployed"
    assert alembic_revision(target.database_url) == ops.facts.revision, "the stage's database was migrated"
    assert own_rows(target.database_url, ops.facts.integration)[0], "the scenario's integration is gone"
    assert not rollback_log(target).exists(), "planning recorded a rollback"


# --- the stage's configuration ---------------------------------------------------------------------------


def connect_sandbox_paypal(api: httpx.Client) -> str:
    """A PayPal integration of `api`'s user on the sandbox's default REST app (its README); its id."""
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
    return str(created.json()["integration"]["id"])


@when(parsers.parse('"{name}" starts a PayPal payment on the stage'), target_fixture="approval_url")
def start_paypal_payment(world: World, name: str) -> str:
    api = world.user(name).client
    integration_id = connect_sandbox_paypal(api)
    payment = api.post(
        "/api/integrations/paypal/payments",
        json={
            "integrationId": integration_id,
            "amount": "1.00",
            "currency": "USD",
            "returnUrl": "https://crm.example/paypal/return",
            "cancelUrl": "https://crm.example/paypal/cancel",
        },
    )
    assert payment.status_code == 201, f"creating a PayPal payment: {describe(payment)}"
    return str(payment.json()["approvalUrl"])


@then("the buyer is sent to PayPal's sandbox to approve it, not to live PayPal")
def approval_in_sandbox(world: World, approval_url: str) -> None:
    host = urlsplit(approval_url).netloc
    sandbox = urlsplit(world.sandbox_url()).netloc
    assert host == sandbox or host.endswith("sandbox.paypal.com"), (
        f"the approval link goes to {host}: PayPal runs in live mode (sandbox: {sandbox} or *.sandbox.paypal.com)"
    )


# --- the stage's cache: the scenario's own keys only ----------------------------------------------------


@given(
    "keys of the scenario's own under this stage's cache prefix, beside a key of the stage's that is not the scenario's"
)
def cache_keys(world: World, ops: OpsLab) -> None:
    target = live_target(world, ops)
    ops.facts.cache_target = target
    if target.redis_url is None:  # no Redis: the stage's cache lives in its service's memory
        return
    prefix = target.redis_key_prefix.rstrip(":")
    mine = f"{prefix}:qa-rollback-{uuid.uuid4().hex[:8]}"
    other = f"{prefix}:qa-untouched-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(target.redis_url)
    for number in range(3):
        client.set(f"{mine}:cache:{number}", "stale")
    client.set(other, "not the scenario's")
    ops.cleanups.append(client.close)
    ops.cleanups.append(lambda: client.delete(other, *(f"{mine}:cache:{n}" for n in range(3))))
    ops.facts.stage_cache = (client, mine, other)


@when("the scenario's cache keys are cleared")
def clear_own_cache(ops: OpsLab) -> None:
    target: Target = ops.facts.cache_target
    if ops.facts.stage_cache is not None:
        target.redis_key_prefix = ops.facts.stage_cache[1]  # only the scenario's own keys: never the stage's cache
    ops.facts.cache_removed = clear_stage_cache(target)


@then("the scenario's cache keys are gone while the stage's other key remains")
def own_cache_cleared(ops: OpsLab) -> None:
    if ops.facts.stage_cache is None:
        assert ops.facts.cache_removed is None, "without REDIS_URL the cache clearing must touch no Redis"
        return
    client, mine, other = ops.facts.stage_cache
    assert ops.facts.cache_removed == 3, f"removed {ops.facts.cache_removed} keys, expected the 3 of the scenario"
    assert client.exists(*(f"{mine}:cache:{n}" for n in range(3))) == 0, "the scenario's cache keys survived"
    assert client.get(other) == b"not the scenario's", "clearing the scenario's keys removed another key of the stage"
