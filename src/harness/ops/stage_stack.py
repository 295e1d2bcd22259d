"""A deployed stage on this machine: what the staging drill gates, and a recipe people can copy.

Given a directory, `StageStack.start()` lays out a stage as a real deployment has one:

  tls/           a private CA (ca.pem) and the certificate its service and sandbox serve (trustme)
  database       the stage's own database on a PostgreSQL server (the embedded one, or `server_url`'s),
                 migrated to the harness's head (the schema a first deployment creates)
  sandbox        the provider sandbox over HTTPS: the stage's providers, delivering webhooks over HTTPS
  deploy/        a git clone of `origin`: the code the service runs, checked out at DEPLOY_SHA
  service.env    the service's settings (systemd EnvironmentFile= format; secrets, so mode 0600)
  deploy.sh      the DEPLOY_COMMAND (templates/stage-deploy.sh; its contract is in its header) and
  deploy.conf    the values it reads; service.pid and service.log are the running service's
  .env.<stage>   the harness's settings for the stage, by the names of CONTRACTS C4

Nothing is deployed by `start()`: a CI job does that through the harness (`invoke deploy`, then
`invoke release` with its migrations), exactly as it would for a remote stage. `stop()` stops the
service and the sandbox, drops the stage's database and clears its Redis keys.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from harness.core.database import create_database, drop_database, with_database
from harness.core.embedded_postgres import EmbeddedPostgres
from harness.core.paths import STACK_DIR
from harness.core.processes import ServerProcess, free_port
from harness.core.stages import Stage
from harness.core.tls import ServerTls, client_verify, issue_private_ca
from harness.ops.cache import clear_stage_cache
from harness.ops.common import Target
from harness.stack.local import register_sandbox_webhooks, sandbox_service_env
from harness.stack.oauth import connect_via_oauth
from integration_service.db import migrations

DEPLOY_SCRIPT = Path(__file__).parents[1] / "templates" / "stage-deploy.sh"
HOST = "127.0.0.1"
SERVICE_READY_TIMEOUT_S = 90
SMOKE_INVOICES = 20  # a small organisation: the smoke sync is a check, not a load


@dataclass(frozen=True)
class StageInfo:
    """Where the stage answers, and the settings the harness reads for it (CONTRACTS C4)."""

    stage: Stage
    service_url: str
    sandbox_url: str
    database_url: str
    ca_bundle: Path
    harness_env: dict[str, str]  # also written to `.env.<stage>` in the stage directory


@dataclass
class StageStack:
    directory: Path
    origin: str  # the git repository deploys fetch from (a path or URL)
    stage: Stage = "staging"
    server_url: str | None = None  # a PostgreSQL server for the stage's database; None: the embedded one
    redis_url: str | None = None
    gate_store_url: str | None = None  # None: the harness keeps gate state in the stage's database
    info: StageInfo | None = None
    tls: ServerTls | None = None
    sandbox: ServerProcess | None = None
    _database: tuple[str, str] | None = None  # (server URL, database name)
    _resources: ExitStack = field(default_factory=ExitStack)

    def start(self) -> StageInfo:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self.info = self._lay_out()
        except BaseException:
            self.stop()
            raise
        self.write_harness_env()
        return self.info

    def _lay_out(self) -> StageInfo:
        tls = self.tls = issue_private_ca(self.directory / "tls")
        database_url = self._create_database()
        # The new stage's schema, as its first deployment would create it: `invoke migrate` backs up first,
        # and refuses an empty database's backup. Later releases migrate through `invoke release`.
        migrations.upgrade(database_url)
        sandbox = self.sandbox = self._start_sandbox(tls)
        service_port = free_port()
        service_url = f"https://{HOST}:{service_port}"
        webhooks = register_sandbox_webhooks(sandbox.url, service_url, client_verify(tls.ca_bundle))
        redis = {"REDIS_KEY_PREFIX": f"integrations:{self.stage}-{uuid.uuid4().hex[:8]}"}
        redis |= {"REDIS_URL": self.redis_url} if self.redis_url else {}
        service_env = {
            "STAGE": self.stage,
            "DATABASE_URL": database_url,
            "PUBLIC_URL": service_url,
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "CORS_ALLOWED_ORIGINS": f"https://crm.{self.stage}.example",
            **sandbox_service_env(sandbox.url),
            **webhooks,
            "PROVIDER_CA_BUNDLE": str(tls.ca_bundle),
            # BillionMail and Mautic instances are URLs users supply; on this machine they are the sandbox.
            "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
            **redis,
        }
        write_private(self.directory / "service.env", env_file_text(service_env))
        self._clone_deploy_dir()
        harness_env = {
            "SERVICE_URL": service_url,
            "DATABASE_URL": database_url,
            **({"GATE_STORE_URL": self.gate_store_url} if self.gate_store_url else {}),
            "CA_BUNDLE": str(tls.ca_bundle),
            "SANDBOX_URL": sandbox.url,
            "SERVICE_LOG": str(self.directory / "service.log"),
            **webhooks,
            **redis,
            "DEPLOY_COMMAND": self._install_deploy_script(tls, service_port),
        }
        return StageInfo(self.stage, service_url, sandbox.url, database_url, tls.ca_bundle, harness_env)

    def add_smoke_integration(self, api_token: str) -> dict[str, str]:
        """The smoke user's integration, connected through the service's real OAuth flow as a user would: a
        small Xero organisation of the sandbox's (smoke syncs its invoices). SMOKE_API_TOKEN and
        SMOKE_INTEGRATION_ID join the harness's settings."""
        assert self.info is not None, "start the stage first"
        verify = client_verify(self.info.ca_bundle)
        organisation = {"provider": "xero", "invoices": SMOKE_INVOICES, "contacts": 5, "name": "Smoke organisation"}
        with httpx.Client(base_url=self.info.sandbox_url, timeout=30, verify=verify) as sandbox:
            tenant = sandbox.post("/_sandbox/tenants", json=organisation)
            tenant.raise_for_status()
        bearer = {"Authorization": f"Bearer {api_token}"}
        with (
            httpx.Client(base_url=self.info.service_url, headers=bearer, timeout=60, verify=verify) as api,
            httpx.Client(timeout=60, verify=verify) as browser,
        ):
            integration = connect_via_oauth(api, browser, "xero", tenant.json()["tenant_id"], integrationName="smoke")
        self.info.harness_env.update(SMOKE_API_TOKEN=api_token, SMOKE_INTEGRATION_ID=str(integration["id"]))
        self.write_harness_env()
        return self.info.harness_env

    def write_harness_env(self) -> Path:
        assert self.info is not None
        return write_private(self.directory / f".env.{self.stage}", env_file_text(self.info.harness_env))

    def stop(self) -> None:
        """Stop the service and the sandbox, clear the stage's Redis keys, drop its database."""
        if (self.directory / "deploy.sh").exists():  # the script's own stop: one way to stop the service
            subprocess.run([str(self.directory / "deploy.sh"), "stop"], check=False, capture_output=True)
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.info is not None and self.redis_url is not None:
            prefix = self.info.harness_env["REDIS_KEY_PREFIX"]
            clear_stage_cache(
                Target(self.stage, self.info.database_url, redis_url=self.redis_url, redis_key_prefix=prefix)
            )
        if self._database is not None:
            drop_database(*self._database)
            self._database = None
        self._resources.close()  # the embedded server, if this stack was its last user

    def __enter__(self) -> StageInfo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the parts -------------------------------------------------------------------------------

    def _create_database(self) -> str:
        server = self.server_url
        if server is None:  # shared with other users of the embedded server; the last one out stops it
            server = self._resources.enter_context(EmbeddedPostgres(STACK_DIR / "pgdata-stages").shared())
        name = f"stage_{self.stage}_{uuid.uuid4().hex[:8]}"
        create_database(server, name)
        self._database = (server, name)
        return with_database(server, name)

    def _start_sandbox(self, tls: ServerTls) -> ServerProcess:
        """`python -m provider_sandbox` over HTTPS; its webhook deliveries trust the stage's CA."""
        port = free_port()
        command = [sys.executable, "-m", "provider_sandbox", "--host", HOST, "--port", str(port)]
        return ServerProcess(
            name="provider sandbox",
            command=[*command, "--tls-cert", str(tls.cert), "--tls-key", str(tls.key)],
            port=port,
            log_path=self.directory / "sandbox.log",
            env={"SANDBOX_WEBHOOK_CA_BUNDLE": str(tls.ca_bundle)},
            ready_path="/_sandbox/health",
            tls=tls,
        ).start()

    def _clone_deploy_dir(self) -> None:
        deploy_dir = self.directory / "deploy"
        shutil.rmtree(deploy_dir, ignore_errors=True)
        git = ["git", "clone", "--quiet", "--no-checkout", self.origin, str(deploy_dir)]
        cloned = subprocess.run(git, capture_output=True, text=True, check=False)
        if cloned.returncode != 0:
            raise StageStackError(f"cannot clone {self.origin} into {deploy_dir}: {cloned.stderr.strip()[-500:]}")

    def _install_deploy_script(self, tls: ServerTls, service_port: int) -> str:
        """deploy.sh (the DEPLOY_COMMAND) and deploy.conf beside it; the command to run it."""
        script = self.directory / "deploy.sh"
        shutil.copyfile(DEPLOY_SCRIPT, script)
        script.chmod(0o755)
        conf = {
            "DEPLOY_DIR": self.directory / "deploy",
            "SERVICE_ENV": self.directory / "service.env",
            "SERVICE_HOST": HOST,
            "SERVICE_PORT": service_port,
            "TLS_CERT": tls.cert,
            "TLS_KEY": tls.key,
            "CA_BUNDLE": tls.ca_bundle,
            "PID_FILE": self.directory / "service.pid",
            "SERVICE_LOG": self.directory / "service.log",
            "READY_TIMEOUT_S": SERVICE_READY_TIMEOUT_S,
        }
        (self.directory / "deploy.conf").write_text(env_file_text({name: str(value) for name, value in conf.items()}))
        return shlex.quote(str(script))


class StageStackError(RuntimeError):
    """The stage could not be laid out; the message says which part and why."""


def env_file_text(values: dict[str, str]) -> str:
    """`NAME='value'` lines: read alike by bash (`set -a; . file`), systemd's EnvironmentFile= and dotenv."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())


def write_private(path: Path, text: str) -> Path:
    """A file only its owner can read: these hold the stage's secrets."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return path
