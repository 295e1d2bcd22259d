"""The local stack: PostgreSQL (embedded unless DATABASE_URL says otherwise), migrations, the provider
sandbox, and the service pointed at it.

`invoke up`, the gate and the tests all start it through `LocalStack`, so the tests exercise what a
developer runs. Its URLs are written to `.stack/stack.json` for other tools (load, fuzz, smoke).
"""

from __future__ import annotations

import json
import secrets
import ssl
import sys
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from harness.core.database import create_database, with_database
from harness.core.embedded_postgres import EmbeddedPostgres
from harness.core.paths import PROJECT_ROOT
from harness.core.processes import Companion, ServerProcess, free_port, uvicorn_command
from harness.stack.provider_settings import ProviderSettings, provider_settings, user_environment
from integration_service.db import migrations
from integration_service.security.api_tokens import issue_token_at

SERVICE_APP = "integration_service.app:app_from_env"
WORKER_MODULE = "integration_service.worker"
SANDBOX_APP = "provider_sandbox.app:app_from_env"


def sandbox_process(log_dir: Path, *, port: int | None = None, env: dict[str, str] | None = None) -> ServerProcess:
    """The provider sandbox as a process on `port` (a free one by default), not yet started."""
    port = port or free_port()
    return ServerProcess(
        name="provider sandbox",
        command=uvicorn_command(SANDBOX_APP, port),
        port=port,
        log_path=log_dir / f"sandbox-{port}.log",
        env=env or {},
        ready_path="/_sandbox/health",
    )


def sandbox_service_env(sandbox_url: str) -> dict[str, str]:
    """Service settings that point every provider at the sandbox, with the sandbox's default OAuth apps."""
    return {
        "XERO_CLIENT_ID": "sandbox-xero-client",
        "XERO_CLIENT_SECRET": "sandbox-xero-secret",
        "XERO_LOGIN_BASE_URL": f"{sandbox_url}/xero/login",
        "XERO_IDENTITY_BASE_URL": f"{sandbox_url}/xero/identity",
        "XERO_API_BASE_URL": f"{sandbox_url}/xero/api",
        "MYOB_CLIENT_ID": "sandbox-myob-client",
        "MYOB_CLIENT_SECRET": "sandbox-myob-secret",
        "MYOB_SECURE_BASE_URL": f"{sandbox_url}/myob/secure",
        "MYOB_API_BASE_URL": f"{sandbox_url}/myob/api",
        "QUICKBOOKS_CLIENT_ID": "sandbox-quickbooks-client",
        "QUICKBOOKS_CLIENT_SECRET": "sandbox-quickbooks-secret",
        "QUICKBOOKS_APPCENTER_BASE_URL": f"{sandbox_url}/quickbooks/appcenter",
        "QUICKBOOKS_OAUTH_BASE_URL": f"{sandbox_url}/quickbooks/oauth",
        "QUICKBOOKS_API_BASE_URL": f"{sandbox_url}/quickbooks/api",
        "STRIPE_API_BASE_URL": f"{sandbox_url}/stripe",
        "PAYPAL_SANDBOX_BASE_URL": f"{sandbox_url}/paypal",
        "PAYPAL_CERT_URL_PREFIXES": f"{sandbox_url}/paypal/certs/",
        # BillionMail has no setting: each integration brings customData.baseUrl = f"{sandbox_url}/billionmail".
        "MAUTIC_CLIENT_ID": "sandbox-mautic-client",
        "MAUTIC_CLIENT_SECRET": "sandbox-mautic-secret",
        "MAUTIC_BASE_URL": f"{sandbox_url}/mautic",
    }


# An event type no provider emits: an endpoint subscribed only to it receives what a test delivers, nothing else.
NEVER_SENT_EVENT = "SANDBOX.NEVER.SENT"
WEBHOOK_PROVIDERS = ("Stripe", "PayPal")  # the providers whose webhooks the sandbox delivers
# The service's webhook settings: the sandbox's registration gives them, a real provider's dashboard the user.
WEBHOOK_SETTINGS = ("STRIPE_WEBHOOK_SECRETS", "PAYPAL_WEBHOOK_ID")


def register_sandbox_webhooks(
    sandbox_url: str,
    service_url: str,
    verify: ssl.SSLContext | bool = True,
    *,
    on_demand: bool = False,
    providers: Collection[str] = WEBHOOK_PROVIDERS,
) -> dict[str, str]:
    """Point the sandbox's Stripe and PayPal webhooks (those of `providers`) at the service; the settings the
    service needs.

    The Stripe signing secret is generated here (as Stripe's dashboard would show it); PayPal assigns
    the webhook id, which is part of every PayPal signature. `verify`: how to trust an HTTPS sandbox.
    `on_demand`: the endpoints receive only the deliveries a test asks the sandbox for (in the order and
    number it chooses), no live events.
    """
    receiver = f"{service_url}/api/integrations"
    events: dict[str, object] = {"enabled_events": [NEVER_SENT_EVENT]} if on_demand else {}
    settings: dict[str, str] = {}
    with httpx.Client(base_url=f"{sandbox_url}/_sandbox", timeout=30, verify=verify) as control:
        if "Stripe" in providers:
            settings.update(_register_stripe_webhook(control, f"{receiver}/stripe/webhook", events))
        if "PayPal" in providers:
            settings.update(_register_paypal_webhook(control, f"{receiver}/paypal/webhook", events))
    return settings


def _register_stripe_webhook(control: httpx.Client, url: str, events: dict[str, object]) -> dict[str, str]:
    secret = "whsec_" + secrets.token_urlsafe(24)
    control.post("/stripe/webhooks", json={"url": url, "secret": secret, **events}).raise_for_status()
    return {"STRIPE_WEBHOOK_SECRETS": secret}


def _register_paypal_webhook(control: httpx.Client, url: str, events: dict[str, object]) -> dict[str, str]:
    registered = control.post("/paypal/webhooks", json={"url": url, **events})
    registered.raise_for_status()
    return {"PAYPAL_WEBHOOK_ID": registered.json()["webhook_id"]}


def provider_service_env(sandbox_url: str, user_env: Mapping[str, str] | None = None) -> ProviderSettings:
    """The service's provider settings: the developer's for each provider they point away from the sandbox
    (the environment over `.env`, or `user_env` when given), the sandbox at `sandbox_url` for the rest."""
    chosen = user_environment() if user_env is None else user_env
    return provider_settings(sandbox_service_env(sandbox_url), chosen)


def service_process(
    database_url: str,
    log_dir: Path,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    ready_path: str = "/api/health",
    workers: int = 1,
) -> ServerProcess:
    """The service as a local-stage process on `port` (a free one by default), not yet started, with one sync
    worker beside it (a companion started and stopped with it).

    PUBLIC_URL is its own address, so OAuth providers (the sandbox) redirect back to it. Unless `env` names
    SYNC_QUEUE, the pair has a queue of its own: a service started with settings of its own (a test's, a
    scenario's) has its syncs run by its own worker, not by another one that shares the database.
    """
    port = port or free_port()
    service_env = {
        "STAGE": "local",
        "DATABASE_URL": database_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SYNC_QUEUE": f"syncs-{port}",
        **(env or {}),
    }
    return ServerProcess(
        name="integration service",
        command=uvicorn_command(SERVICE_APP, port, workers=workers),
        port=port,
        log_path=log_dir / f"service-{port}.log",
        env=service_env,
        ready_path=ready_path,
        companions=[worker_process(log_dir / f"worker-{port}.log", service_env)],
    )


def worker_process(log_path: Path, env: dict[str, str], concurrency: int | None = None) -> Companion:
    """A sync worker (`python -m integration_service.worker`) with the service's settings."""
    command = [sys.executable, "-m", WORKER_MODULE]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    return Companion(name="sync worker", command=command, log_path=log_path, env=dict(env))


@dataclass(frozen=True)
class StackInfo:
    service_url: str
    database_url: str
    sandbox_url: str


@dataclass
class LocalStack:
    """Start with `start()` (or `with LocalStack(...) as info:`); `stop()` stops what it started."""

    state_dir: Path = PROJECT_ROOT / ".stack"
    database_name: str = "integrations"
    external_database_url: str | None = None  # a server to use instead of the embedded one
    port: int | None = None
    durable: bool = True
    service_env: dict[str, str] = field(default_factory=dict)
    sandbox_env: dict[str, str] = field(default_factory=dict)  # e.g. SANDBOX_SEED_INVOICES
    data_dir: Path | None = None  # the embedded server's data; state_dir/pgdata by default
    embedded: EmbeddedPostgres | None = None
    service: ServerProcess | None = None
    sandbox: ServerProcess | None = None
    info: StackInfo | None = None
    webhook_settings: dict[str, str] = field(default_factory=dict)  # the signing secret and webhook id in use
    webhooks_on_demand: bool = False  # see register_sandbox_webhooks
    # The developer's provider settings (provider_settings.py); None: read at start, the environment over `.env`.
    # Tests pass {} so that a developer's shell cannot point their stack at a real provider.
    user_env: Mapping[str, str] | None = None
    providers: ProviderSettings | None = None  # where the service reaches each provider, once started
    started_embedded: bool = False
    service_workers: int = 1  # web processes (uvicorn --workers)

    def start(self) -> StackInfo:
        sandbox = sandbox_process(self.state_dir / "logs", env=self.sandbox_env)
        # Before anything starts: an external provider left incomplete is the developer's to fix first.
        self.providers = provider_service_env(sandbox.url, self.user_env)
        database_url = self.start_database()
        migrations.upgrade(database_url)
        self.sandbox = sandbox.start()
        port = self.port or free_port()
        self.webhook_settings = self._webhook_settings(self.sandbox.url, f"http://127.0.0.1:{port}")
        self.service = service_process(
            database_url,
            self.state_dir / "logs",
            port=port,
            # The stage's queue: a worker started on its own (`invoke worker`) runs its syncs too.
            env={
                "SYNC_QUEUE": "syncs",
                **self.providers.env,
                **self.webhook_settings,
                **self.service_env,
            },
            workers=self.service_workers,
        ).start()
        self.info = StackInfo(service_url=self.service.url, database_url=database_url, sandbox_url=self.sandbox.url)
        self._write_stack_file()
        return self.info

    def _webhook_settings(self, sandbox_url: str, service_url: str) -> dict[str, str]:
        """The sandbox's webhooks registered for the providers it plays; an external provider's webhook is the
        developer's to configure at the provider, its settings come with the provider's (webhook_settings
        holds them too, so that whoever signs events for this stack finds them in one place)."""
        assert self.providers is not None
        on_sandbox = [name for name in WEBHOOK_PROVIDERS if name not in self.providers.external]
        registered = register_sandbox_webhooks(
            sandbox_url, service_url, on_demand=self.webhooks_on_demand, providers=on_sandbox
        )
        external = {name: self.providers.env[name] for name in WEBHOOK_SETTINGS if name in self.providers.env}
        return {**external, **registered}

    def start_database(self) -> str:
        """The URL of this stack's database, created (and its server started) when needed."""
        if self.external_database_url is not None:
            server_url = self.external_database_url
        else:
            self.embedded = EmbeddedPostgres(self.data_dir or self.state_dir / "pgdata", durable=self.durable)
            # A server another stack (or `invoke up`) already runs is shared, not ours to stop.
            self.started_embedded = not self.embedded.is_running()
            server_url = self.embedded.start()
        create_database(server_url, self.database_name, exist_ok=True)
        return with_database(server_url, self.database_name)

    def issue_token(self, user_name: str, label: str = "") -> str:
        """A new API token on this stack's database (load generators and benchmarks log in with it)."""
        assert self.info is not None, "start the stack first"
        return issue_token_at(self.info.database_url, user_name, label)

    def stop(self, *, stop_database: bool = True) -> None:
        for process in (self.service, self.sandbox):
            if process is not None:
                process.stop()
        if stop_database and self.embedded is not None and self.started_embedded:
            self.embedded.stop()
        if self.info is not None:  # only the stack that wrote stack.json removes it
            (self.state_dir / "stack.json").unlink(missing_ok=True)
            self.info = None

    def _write_stack_file(self) -> None:
        assert self.info is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "stack.json").write_text(json.dumps(asdict(self.info), indent=2) + "\n")

    def __enter__(self) -> StackInfo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
