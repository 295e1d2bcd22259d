"""The stage stack: a stage on this machine as a deployment has one (private CA, TLS service from its own
deploy directory, its own database, the sandbox over TLS as its providers) and its DEPLOY_COMMAND."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from harness.core.database import database_name
from harness.core.tls import client_verify
from harness.ops.sandbox import PAYPAL_RECEIVER, deliver, new_paypal_event, paypal_endpoint_id
from harness.ops.stage_stack import StageInfo, StageStack
from integration_service.security.api_tokens import issue_token_at
from tests.e2e.drill_repo import git, scratch_origin

# e2e: starts deployed stages (TLS, databases, sandbox) of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = [pytest.mark.db, pytest.mark.e2e]

C4_NAMES = {"SERVICE_URL", "DATABASE_URL", "CA_BUNDLE", "SANDBOX_URL", "SERVICE_LOG", "STRIPE_WEBHOOK_SECRETS"}
C4_NAMES |= {"PAYPAL_WEBHOOK_ID", "REDIS_KEY_PREFIX", "DEPLOY_COMMAND"}


def run_deploy(info: StageInfo, sha: str) -> subprocess.CompletedProcess[str]:
    """The DEPLOY_COMMAND as the harness runs it: a shell command with DEPLOY_SHA in its environment."""
    return subprocess.run(  # noqa: S602 - the stage's own configured command
        info.harness_env["DEPLOY_COMMAND"],
        shell=True,
        env={**os.environ, "DEPLOY_SHA": sha, "DEPLOY_STAGE": info.stage},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def service_pid(stack: StageStack) -> int:
    return int((stack.directory / "service.pid").read_text())


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repository, _ = scratch_origin(Path(__file__).resolve().parents[2], tmp_path_factory.mktemp("origin"))
    return repository


@pytest.fixture(scope="module")
def deployed(
    origin: Path, database_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StageStack, StageInfo]]:
    stack = StageStack(tmp_path_factory.mktemp("stage"), str(origin), "staging", server_url=database_server_url)
    with stack as info:
        done = run_deploy(info, git(origin, "rev-parse", "HEAD"))
        assert done.returncode == 0, done.stderr
        yield stack, info


def test_the_service_answers_over_tls_from_the_stage_ca_only(deployed: tuple[StageStack, StageInfo]) -> None:
    _, info = deployed
    assert info.service_url.startswith("https://")
    assert info.sandbox_url.startswith("https://")
    health = httpx.get(f"{info.service_url}/api/health", verify=client_verify(info.ca_bundle), timeout=10)
    assert health.status_code == 200, health.text
    assert "Strict-Transport-Security" in health.headers  # the service runs as STAGE=staging
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{info.service_url}/api/health", timeout=10)


def test_the_harness_settings_use_the_c4_names_and_stay_private(deployed: tuple[StageStack, StageInfo]) -> None:
    stack, info = deployed
    assert set(info.harness_env) >= C4_NAMES
    for name in (".env.staging", "service.env"):
        assert stat.S_IMODE((stack.directory / name).stat().st_mode) == 0o600
    text = (stack.directory / ".env.staging").read_text()
    assert f"SERVICE_URL={info.service_url}" in text
    assert Path(info.harness_env["SERVICE_LOG"]).read_text().count("Application startup complete") >= 1


def test_the_service_reaches_its_providers_and_they_reach_it_over_tls(deployed: tuple[StageStack, StageInfo]) -> None:
    stack, info = deployed
    token = issue_token_at(info.database_url, f"stage-{uuid.uuid4().hex[:8]}")
    settings = stack.add_smoke_integration(token)  # the OAuth flow: the service's token call to the TLS sandbox
    with httpx.Client(base_url=info.service_url, verify=client_verify(info.ca_bundle), timeout=60) as service:
        integration = settings["SMOKE_INTEGRATION_ID"]
        synced = service.post(
            "/api/integrations/sync",
            headers={"Authorization": f"Bearer {token}"},
            json={"integrationId": integration, "dataType": "invoices"},
        )
    assert synced.status_code == 200, synced.text
    with httpx.Client(base_url=info.sandbox_url, verify=client_verify(info.ca_bundle), timeout=60) as sandbox:
        endpoint = paypal_endpoint_id(sandbox, f"{info.service_url}{PAYPAL_RECEIVER}")
        assert endpoint is not None
        # The sandbox signs and delivers over HTTPS (trusting the stage CA); the service fetches the signing
        # certificate back from the sandbox over HTTPS (PROVIDER_CA_BUNDLE) to verify it.
        delivery = deliver(sandbox, endpoint, new_paypal_event(sandbox))
    assert delivery.status_code == 200, delivery.describe()


def test_a_redeploy_replaces_the_service_and_an_unknown_commit_is_refused(
    deployed: tuple[StageStack, StageInfo], origin: Path
) -> None:
    stack, info = deployed
    before = service_pid(stack)
    again = run_deploy(info, git(origin, "rev-parse", "HEAD"))
    assert again.returncode == 0, again.stderr
    assert service_pid(stack) != before
    assert not alive(before)
    unknown = run_deploy(info, "0" * 40)
    assert unknown.returncode != 0
    assert "is not in" in unknown.stderr


def test_stop_leaves_nothing_running_and_drops_the_database(
    origin: Path, database_server_url: str, tmp_path: Path
) -> None:
    stack = StageStack(tmp_path / "stage", str(origin), "staging", server_url=database_server_url)
    info = stack.start()
    assert run_deploy(info, git(origin, "rev-parse", "HEAD")).returncode == 0
    service, sandbox = service_pid(stack), stack.sandbox
    assert sandbox is not None
    assert sandbox.process is not None
    name = database_name(info.database_url)
    stack.stop()
    assert not alive(service)
    assert sandbox.process.poll() is not None
    with psycopg.connect(database_server_url) as connection:
        left = connection.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name]).fetchone()
    assert left == (0,)
