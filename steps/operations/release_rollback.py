"""Steps of releases and rollbacks on a scratch stage deployed from a scratch git checkout: a release whose
smoke tests fail is rolled back automatically; the rollback procedure (dry run, cache, record) restores the
database and redeploys the running version.
"""

from __future__ import annotations

import json
import os
import uuid

import httpx
import psutil
import redis
from pytest_bdd import given, then, when

from harness.core.processes import free_port
from harness.gates.scenarios import LOCAL_SERVICE_ENV
from harness.ops.common import OpsError, git_sha, read_records
from harness.ops.deploy import last_deploy
from harness.ops.pgtools import alembic_revision, table_snapshot
from harness.ops.release import release
from harness.ops.rollback import rollback
from steps.common import World, describe
from steps.operations.deployments import deploy_to_scratch, deployed_healthy, service_state
from steps.support.lab import OpsLab, seed_customer
from steps.support.scratch_checkout import git, make_checkout, write_schema_release

# --- releases and rollbacks from a scratch git checkout -----------------------------------------------


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
    ops.facts.previous_sha = git_sha(checkout)
    ops.facts.snapshot = table_snapshot(target.database_url)


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
    lab.facts.released_sha = git_sha(checkout)


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
        ops.facts.release = release(ops.current(), reports_dir=ops.root / "reports", waive=SCRATCH_WAIVERS)
    except OpsError as failed:
        ops.facts.release_failed = str(failed)


@given("the new commit was released successfully")
def released_successfully(ops: OpsLab) -> None:
    release_new_commit(ops)
    assert ops.facts.release_failed is None, f"the release failed: {ops.facts.release_failed}"
    assert ops.facts.release is not None, "the release recorded nothing"
    assert ops.facts.release["status"] == "released", f"release record: {ops.facts.release}"


@then("the release failed its smoke tests and was rolled back automatically")
def rolled_back_automatically(ops: OpsLab) -> None:
    failed = ops.facts.release_failed
    assert failed is not None, f"the broken release was not stopped: {ops.facts.release}"
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
    assert head == ops.facts.released_sha, f"the rollback changed the checkout's HEAD to {head[:10]}"
    newest = last_deploy(target)
    assert newest is not None, "no deployment is recorded"
    assert newest["sha"] == ops.facts.previous_sha, f"the last deployment is {newest}, not the running version"
    assert target.service_url, "the rollback left no service URL"
    version = httpx.get(f"{target.service_url}/api/version", timeout=15)
    assert version.json().get("gitSha") == ops.facts.previous_sha, f"the stage reports {describe(version)}"


@then("the scratch database equals what it was before the release, table by table")
def database_as_before(ops: OpsLab) -> None:
    after = table_snapshot(ops.current().database_url)
    before = ops.facts.snapshot
    assert sorted(after) == sorted(before), f"tables: before {sorted(before)}, after {sorted(after)}"
    differing = [table for table in before if after[table] != before[table]]
    assert differing == [], f"tables that differ from before the release: {differing}"


@then("the service deployed last runs the running version's code and answers its health check")
def redeployed(ops: OpsLab) -> None:
    target = ops.current()
    newest = last_deploy(target)
    assert newest is not None, "no deployment is recorded"
    assert newest["sha"] == ops.facts.previous_sha, f"the last deployment is {newest}"
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
    assert record["sha"] == ops.facts.previous_sha, f"the record names {record['sha']}"


@given("this stage's cache holds keys, beside another stage's keys")
def cache_keys(ops: OpsLab) -> None:
    target = ops.current()
    if target.redis_url is None:  # in-process cache only: it lives and dies with the service process
        ops.facts.rollback_cache = None
        return
    client = redis.Redis.from_url(target.redis_url)
    other = f"integrations:other-{uuid.uuid4().hex[:8]}"
    for number in range(3):
        client.set(f"{target.redis_key_prefix}:cache:{number}", "stale")
    client.set(f"{other}:cache:0", "another stage's")
    ops.cleanups.append(lambda: client.delete(f"{other}:cache:0"))
    ops.cleanups.append(client.close)
    ops.facts.rollback_cache = (client, other)


@when("the rollback is planned with a dry run")
def rollback_dry_run(ops: OpsLab) -> None:
    ops.facts.plan = rollback(ops.current(), dry_run=True)


@then("the plan lists the database restore, the redeployment, the cache clearing and the verification")
def rollback_plan(ops: OpsLab) -> None:
    plan: list[str] = ops.facts.plan["plan"]
    cache = "clear cache keys under" if ops.current().redis_url else "no Redis"
    redeploy = f"redeploy {ops.facts.previous_sha[:10]}"
    for words in ("restore", redeploy, cache, "verify"):
        assert any(words in line for line in plan), f"the plan does not mention {words!r}: {plan}"


@then("the dry run changed nothing")
def dry_run_changed_nothing(ops: OpsLab) -> None:
    target = ops.current()
    assert git_sha(target.checkout) == ops.facts.released_sha, "the dry run changed the checkout"
    assert alembic_revision(target.database_url) == "9999release", "the dry run changed the database"
    assert read_records(target.state_dir / "rollbacks.jsonl") == [], "the dry run recorded a rollback"


@when("the rollback procedure runs")
def run_rollback(ops: OpsLab) -> None:
    ops.facts.pid_before_rollback = json.loads(service_state(ops.current()).read_text())["pid"]
    ops.facts.rollback = rollback(ops.current(), yes=True)


@then("this stage's cache keys are gone while the other stage's keys remain")
def cache_cleared(ops: OpsLab) -> None:
    target = ops.current()
    if ops.facts.rollback_cache is None:  # no Redis: the cache was the old process's memory, which must be gone
        old = ops.facts.pid_before_rollback
        assert not psutil.pid_exists(old), f"the service that held the in-process cache (pid {old}) still runs"
        return
    client, other = ops.facts.rollback_cache
    stale = [f"{target.redis_key_prefix}:cache:{number}" for number in range(3)]
    assert client.exists(*stale) == 0, "this stage's cache keys survived the rollback"
    assert client.get(f"{other}:cache:0") == b"another stage's", "the rollback removed another stage's cache key"
    assert ops.facts.rollback["cache_keys_removed"] >= 3, f"rollback record: {ops.facts.rollback}"
