"""Steps of the deployment procedures on scratch stages: the service's settings and its refusals to start,
deployments and redeployments (health, deploy log, the previous service stopped), a scratch stage pointed
at the provider sandbox, and production's deploy command behind the operator's confirmation.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import sys
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from cryptography.fernet import Fernet
from pytest_bdd import given, parsers, then, when

from harness.core.paths import PROJECT_ROOT
from harness.core.processes import free_port
from harness.core.tls import client_verify
from harness.gates.scenarios import LOCAL_SERVICE_ENV
from harness.ops.common import OpsError, Target, git_sha, read_records
from harness.ops.deploy import deploy, deploy_log, last_deploy
from harness.stack.local import sandbox_service_env
from steps.common import World, describe
from steps.support.lab import OpsLab

NEVER_SENT = "SANDBOX.NEVER.SENT"  # a PayPal event type no API call emits: only explicit deliveries arrive


def health_of(url: str) -> httpx.Response:
    return httpx.get(f"{url}/api/health", timeout=15)


# --- deployments on scratch stages --------------------------------------------------------------------


def deploy_scratch(lab: OpsLab, target: Target) -> None:
    """Deploy the target's checkout as a local service; a refusal to start is kept, not raised."""
    try:
        deploy(target)
        lab.facts.pids.append(json.loads(service_state(target).read_text())["pid"])
    except OpsError as refusal:
        lab.facts.deploy_refusal = str(refusal)


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
    ops.facts.service_env = {
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
    ops.facts.service_env[name] = value


@when("the code is deployed with those settings on a scratch database")
def deploy_with_settings(ops: OpsLab) -> None:
    target = ops.new_target(ops.scratch_database(), service_env=ops.facts.service_env)
    deploy_scratch(ops, target)


@then(parsers.parse('the service refused to start, saying "{reason}"'))
def service_refused(ops: OpsLab, reason: str) -> None:
    refusal = ops.facts.deploy_refusal
    assert refusal is not None, f"expected the service to refuse to start ({reason}); it started"
    assert reason in refusal, f"expected the refusal to say {reason!r}; it said: {refusal[-1500:]}"


@then("the deployed service answers its health check with its database reachable")
def deployed_healthy(ops: OpsLab) -> None:
    assert ops.facts.deploy_refusal is None, f"the service did not start: {ops.facts.deploy_refusal[-1500:]}"
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
    assert ops.facts.deploy_refusal is None, f"the deployment failed: {ops.facts.deploy_refusal[-1500:]}"


@then("the deploy log records both deployments of the checkout's commit")
def deploy_log_records(ops: OpsLab) -> None:
    target = ops.current()
    records = [r for r in read_records(deploy_log(target)) if r["result"] == "ok"]
    sha = git_sha(target.checkout)
    assert [r["sha"] for r in records] == [sha, sha], f"expected two deployments of {sha[:10]}: {records}"
    assert all(r["stage"] == target.stage and r.get("time") for r in records), f"records lack stage or time: {records}"


@then("only the newest deployment's service is running, and it answers its health check")
def only_newest_running(ops: OpsLab) -> None:
    first, newest = ops.facts.pids
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
    ops.facts.paypal_webhook_id = webhook_id
    deploy_to_scratch(ops)


# --- production's deploy command, behind the operator's confirmation ----------------------------------


@given("production's deploy command writes the commit it is asked to deploy to a file")
def production_deploy_command(ops: OpsLab) -> None:
    written = ops.root / "deployed-sha.txt"
    ops.facts.deployed_file = written
    ops.new_target("", stage="production", deploy_command=f'printf %s "$DEPLOY_SHA" > {shlex.quote(str(written))}')


@when(parsers.parse('the operator deploys to production and types "{answer}" at the confirmation'))
def deploy_with_answer(ops: OpsLab, monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer + "\n"))  # what the operator types
    try:
        deploy(ops.current())
        ops.facts.deploy_refusal = None
    except OpsError as refusal:
        ops.facts.deploy_refusal = str(refusal)


@then("nothing was deployed to production")
def nothing_deployed(ops: OpsLab) -> None:
    refusal = ops.facts.deploy_refusal or ""
    assert "not confirmed" in refusal, f"expected the deployment refused as not confirmed, got {refusal!r}"
    assert not ops.facts.deployed_file.exists(), "the deploy command ran without a confirmation"
    assert read_records(deploy_log(ops.current())) == [], "an unconfirmed deployment was recorded"


@then("the deploy command was given the checkout's commit")
def deploy_command_ran(ops: OpsLab) -> None:
    assert ops.facts.deploy_refusal is None, f"the deployment was refused: {ops.facts.deploy_refusal}"
    written: Path = ops.facts.deployed_file
    assert written.exists(), "the deploy command did not run"
    assert written.read_text() == git_sha(PROJECT_ROOT), f"DEPLOY_SHA was {written.read_text()!r}"


@then("the deploy log records the checkout's commit as deployed to production")
def production_deploy_recorded(ops: OpsLab) -> None:
    newest = last_deploy(ops.current())
    assert newest is not None, "no successful deployment in the deploy log"
    assert (newest["stage"], newest["sha"]) == ("production", git_sha(PROJECT_ROOT)), f"recorded {newest}"
