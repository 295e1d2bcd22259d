"""`invoke deploy`: put a commit live (the checkout's HEAD unless told another, e.g. by a rollback), wait
until the stage says it runs that commit, and record what was deployed (sha, time) in a deploy log.

Local stage: (re)start the service as a detached process, stopping only the process the previous local
deploy recorded: from the checkout's working tree for its HEAD, from a clean export (`git archive`) for
any other commit; BUILD_SHA tells the service which commit it is. When `invoke up`'s provider sandbox
answers, the service is pointed at it and its PayPal webhook registered there. Other stages: run the
stage's DEPLOY_COMMAND with DEPLOY_SHA and DEPLOY_STAGE in its environment.

Either way the deploy is done only when `GET {SERVICE_URL}/api/version` reports the deployed commit
(polled for up to DEPLOY_WAIT_S seconds): a command that returns before the stage runs the new code, or
a stage that never does, fails the deploy, naming the commit the stage reports instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from harness.core.processes import ServerProcess, ServerStartError, free_port, uvicorn_command
from harness.ops.common import OpsError, Target, append_record, confirm, git, git_sha, read_records, step, utc_now
from harness.ops.sandbox import ensure_paypal_webhook, sandbox_answers
from harness.stack.local import SERVICE_APP, WORKER_MODULE, sandbox_service_env

# Services this process started, kept so that stopping one reaps it (no zombie, no ResourceWarning).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Deployment:
    stage: str
    sha: str
    url: str | None


def deploy_log(target: Target) -> Any:
    return target.state_dir / "deploy-log.jsonl"


def last_deploy(target: Target) -> dict[str, Any] | None:
    """The newest successful deploy of the stage, from the deploy log."""
    records = [r for r in read_records(deploy_log(target)) if r["stage"] == target.stage and r["result"] == "ok"]
    return records[-1] if records else None


def deploy(
    target: Target, *, sha: str | None = None, yes: bool = False, dry_run: bool = False, reason: str = "manual"
) -> Deployment:
    """Deploy `sha` (default: the checkout's HEAD). A rollback passes the previous release's commit: one that
    exists where DEPLOY_COMMAND fetches from, never a commit made only in this checkout."""
    sha = sha or git_sha(target.checkout)
    where = "restart the local service" if target.stage == "local" else f"run DEPLOY_COMMAND ({target.deploy_command})"
    target.say(f"Deploy {sha[:10]} to {target.stage}: {where}")
    if dry_run:
        target.say("[yellow]Dry run[/]: nothing was deployed.")
        return Deployment(target.stage, sha, target.service_url)
    confirm(target, f"Deploy {sha[:10]}", yes=yes)
    record: dict[str, Any] = {"stage": target.stage, "sha": sha, "time": utc_now().isoformat(), "reason": reason}
    try:
        url = _restart_local(target, sha) if target.stage == "local" else _run_deploy_command(target, sha)
        record["confirmed"] = wait_for_sha(target, url, sha)
    except OpsError as exc:
        append_record(deploy_log(target), {**record, "result": "failed", "error": str(exc)[:500]})
        raise
    append_record(deploy_log(target), {**record, "result": "ok", "url": url})
    target.service_url = url
    target.say(f"[green]Deployed[/] {sha[:10]} to {target.stage}" + (f" at {url}" if url else ""))
    return Deployment(target.stage, sha, url)


def deployed_sha(service_url: str, verify: ssl.SSLContext | bool = True) -> str:
    """The commit the stage's service says it runs (`GET /api/version`): 40 hex digits, or "unknown"."""
    try:
        answer = httpx.get(f"{service_url.rstrip('/')}/api/version", timeout=10, verify=verify)
    except httpx.HTTPError as exc:
        raise OpsError(f"{service_url}/api/version did not answer: {type(exc).__name__}: {exc}") from None
    if answer.status_code != 200:
        raise OpsError(f"{service_url}/api/version answered HTTP {answer.status_code}: {answer.text[:200]}")
    try:
        sha = answer.json()["gitSha"]
    except (ValueError, KeyError, TypeError):
        raise OpsError(f"{service_url}/api/version did not report a gitSha: {answer.text[:200]}") from None
    return str(sha)


def wait_for_sha(target: Target, url: str | None, sha: str) -> bool:
    """Poll the stage until it reports `sha` (True), for up to DEPLOY_WAIT_S; without a service URL nothing
    can be asked (False, and said)."""
    if url is None:
        target.say(
            f"  [yellow]not confirmed[/]: no SERVICE_URL for {target.stage}, so nothing can say whether it runs "
            f"{sha[:10]} (set SERVICE_URL to have deploy wait for it)"
        )
        return False
    deadline = time.monotonic() + target.deploy_wait_s
    seen = "no answer yet"
    with step(target, f"wait until {url}/api/version reports {sha[:10]} (up to {target.deploy_wait_s:g} s)"):
        while True:
            try:
                reported = deployed_sha(url, target.verify)
                if reported == sha:
                    return True
                seen = f"it reports {reported}"
            except OpsError as exc:
                seen = f"last answer: {exc}"
            if time.monotonic() >= deadline:
                raise OpsError(
                    f"the stage did not report {sha} within {target.deploy_wait_s:g} s of the deploy ({seen}): "
                    "the deployment did not take effect, or the service's BUILD_SHA is wrong"
                )
            time.sleep(1)


def running_sha(target: Target) -> tuple[str | None, str]:
    """The commit the stage runs, and how that is known: the stage's own answer (`/api/version`), else the
    deploy log's newest entry, saying why the stage could not tell."""
    why = "no SERVICE_URL to ask"
    if target.service_url:
        try:
            reported = deployed_sha(target.service_url, target.verify)
            if reported != "unknown":
                return reported, f"reported by {target.service_url}/api/version"
            why = "the service reports its commit as 'unknown' (set BUILD_SHA where it is deployed)"
        except OpsError as exc:
            why = str(exc)
    recorded = last_deploy(target)
    if recorded is None:
        return None, f"the stage cannot tell ({why}) and no deploy of {target.stage} is recorded"
    return str(recorded["sha"]), f"from the deploy log, because the stage cannot tell: {why}"


def _run_deploy_command(target: Target, sha: str) -> str | None:
    if not target.deploy_command:
        raise OpsError(
            f"no DEPLOY_COMMAND for stage {target.stage!r}: set it in the environment or .env.{target.stage}"
        )
    with step(target, f"DEPLOY_COMMAND for {sha[:10]}"):
        ran = subprocess.run(  # noqa: S602 - the operator's own configured command
            target.deploy_command,
            shell=True,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "DEPLOY_SHA": sha, "DEPLOY_STAGE": target.stage},
        )
    if ran.returncode != 0:
        raise OpsError(f"DEPLOY_COMMAND exited with {ran.returncode}: {ran.stderr.strip()[-800:]}")
    return target.service_url


def _state_file(target: Target) -> Any:
    return target.state_dir / f"service-{target.stage}.json"


def with_worker(command: list[str], source: Path) -> list[str]:
    """`command` (the service), preceded by the build's sync worker when it has one, in one process group: a
    shell starts the worker in the background and becomes the service (`exec`), so stopping the service's
    group stops both, and the recorded pid stays the service's."""
    if not (source / "src" / WORKER_MODULE.replace(".", "/")).with_suffix(".py").exists():
        return command  # a build from before the sync queue
    return ["/bin/sh", "-c", f'"{sys.executable}" -m {WORKER_MODULE} & exec "$@"', "sh", *command]


def stop_local(target: Target) -> None:
    """Stop the service the last local deploy started (checked by pid and start time, nothing else)."""
    state_file = _state_file(target)
    if not state_file.exists():
        return
    state = json.loads(state_file.read_text())
    child = _STARTED.pop(state["pid"], None)  # our own child: reaped by waiting on it
    try:
        process = psutil.Process(state["pid"])
        if abs(process.create_time() - state["create_time"]) < 1:
            os.killpg(process.pid, signal.SIGTERM)
            if child is not None:
                child.wait(15)
            else:
                process.wait(15)
    except (psutil.NoSuchProcess, ProcessLookupError):
        pass
    except (psutil.TimeoutExpired, subprocess.TimeoutExpired):
        os.killpg(state["pid"], signal.SIGKILL)
        if child is not None:
            child.wait(15)
    state_file.unlink()


def sandbox_settings(target: Target, service_url: str) -> dict[str, str]:
    """Local stage with a running provider sandbox (`invoke up`): the service talks to the sandbox's providers
    and its PayPal webhook is registered there (PayPal's webhook id is part of every signature), so that
    `invoke smoke` can have a PayPal event signed and delivered. Without a sandbox: nothing changes."""
    if not sandbox_answers(target.sandbox_url, target.verify):
        return {}
    assert target.sandbox_url is not None
    webhook_id = ensure_paypal_webhook(target.sandbox_url, service_url)
    target.say(f"  provider sandbox at {target.sandbox_url}: PayPal webhook {webhook_id} delivers to this service")
    return {**sandbox_service_env(target.sandbox_url), "PAYPAL_WEBHOOK_ID": webhook_id}


def source_of(target: Target, sha: str) -> Path:
    """Where a local deploy runs `sha` from: the checkout itself for its HEAD; otherwise a clean export of the
    commit under the state folder (the checkout is left as it is: no checkout, no revert)."""
    if sha == git_sha(target.checkout):
        return target.checkout
    git(target.checkout, "cat-file", "-e", f"{sha}^{{commit}}")  # fails clearly when the commit is not here
    destination = target.state_dir / "builds" / sha
    if not destination.exists():
        archive = subprocess.run(["git", "archive", sha], cwd=target.checkout, capture_output=True, check=False)
        if archive.returncode != 0:
            raise OpsError(f"git archive {sha[:10]} failed: {archive.stderr.decode(errors='replace')[-300:]}")
        partial = destination.with_name(f"{sha}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(partial, filter="data")
        partial.rename(destination)
    return destination


def _restart_local(target: Target, sha: str) -> str:
    previous = json.loads(_state_file(target).read_text()) if _state_file(target).exists() else {}
    port = previous.get("port") or (urlsplit(target.service_url).port if target.service_url else None) or free_port()
    source = source_of(target, sha)
    stop_local(target)
    env = {
        "PYTHONPATH": str(source / "src"),  # that code, not the harness's copy
        "BUILD_SHA": sha,
        "STAGE": "local",
        "DATABASE_URL": target.database_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "REDIS_KEY_PREFIX": target.redis_key_prefix or "integrations:local",
        **({"REDIS_URL": target.redis_url} if target.redis_url else {}),
        **sandbox_settings(target, f"http://127.0.0.1:{port}"),
        **target.service_env,
    }
    log_path = target.state_dir / "logs" / f"service-{target.stage}-{sha[:10]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = with_worker(uvicorn_command(SERVICE_APP, port), source)
    with step(target, f"start the service from {source.name} on port {port}"), log_path.open("ab") as log:
        # Detached (own session): it outlives this command, and only its recorded pid is ever stopped.
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True
        )
        _STARTED[child.pid] = child
        process = ServerProcess(f"integration service {sha[:10]}", command, port, log_path, env, "/api/health")
        process.process = child
        try:
            process.wait_ready(60)
        except ServerStartError as exc:
            raise OpsError(f"the service did not start: {exc}") from None
    assert process.process is not None
    state = {
        "pid": process.process.pid,
        "create_time": psutil.Process(process.process.pid).create_time(),
        "port": port,
        "sha": sha,
        "url": process.url,
        "log": str(process.log_path),
    }
    _state_file(target).write_text(json.dumps(state, indent=2) + "\n")
    return process.url
