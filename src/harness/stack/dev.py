"""The local stage as a developer drives it: `invoke up` (the stack in the foreground until Ctrl-C)
and `invoke token` (an API token on the local database)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

from rich.console import Console
from sqlalchemy.engine import make_url

from harness.core.database import database_name
from harness.core.paths import STACK_DIR
from harness.core.processes import log_tail
from harness.core.settings import stage_settings
from harness.core.stages import LOCAL_SERVICE_PORT
from harness.stack.local import WEBHOOK_PROVIDERS, WORKER_MODULE, LocalStack, StackInfo, provider_service_env
from harness.stack.provider_settings import PROVIDERS

DEFAULT_PORT = LOCAL_SERVICE_PORT
_POLL_INTERVAL_S = 0.5


class StackNotRunningError(RuntimeError):
    """`invoke worker` on the local stage needs the stack `invoke up` runs."""


class PortInUseError(RuntimeError):
    """The requested port is taken; the message says how to choose another."""


def local_stack(port: int | None = None, workers: int = 1) -> LocalStack:
    """The developer's stack: embedded PostgreSQL, or the database DATABASE_URL names (env or .env);
    the service served by `workers` processes."""
    external = stage_settings("local").database_url
    if external is None:
        return LocalStack(state_dir=STACK_DIR, port=port, service_workers=workers)
    url = external.get_secret_value()
    return LocalStack(
        state_dir=STACK_DIR,
        database_name=database_name(url),
        external_database_url=url,
        port=port,
        service_workers=workers,
    )


def printable_url(url: str) -> str:
    """A database URL with its password masked, fit for a terminal or a log."""
    return make_url(url).render_as_string(hide_password=True)


def ensure_port_free(port: int, host: str = "127.0.0.1") -> None:
    # Checked before starting: another server already answering on the port would otherwise look
    # like our service becoming ready.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(f"port {port} on {host} is in use: stop what uses it or pass --port") from None


def show_urls(info: StackInfo, external: Mapping[str, str], console: Console) -> None:
    """The stack's addresses; `external`: the providers reached elsewhere than the sandbox (name -> base URL)."""
    console.print(f"[bold green]Local stack is up[/] (state in {STACK_DIR})")
    console.print(f"  service   {info.service_url}")
    console.print(f"  health    {info.service_url}/api/health")
    console.print(f"  OpenAPI   {info.service_url}/openapi.json")
    console.print(f"  database  {printable_url(info.database_url)}")
    console.print(f"  sandbox   {info.sandbox_url}  (offline provider APIs the service talks to)")
    show_providers(info, external, console)
    console.print("  worker    one sync worker (more: `uv run invoke worker` in another terminal)")
    console.print(f"  urls in   {STACK_DIR / 'stack.json'}")
    console.print("Press Ctrl-C to stop.")


def show_providers(info: StackInfo, external: Mapping[str, str], console: Console) -> None:
    """Each provider: "sandbox" or the base URL it is reached at (never a credential)."""
    console.print("  providers (set a provider's settings in the environment or .env to leave the sandbox)")
    for provider in PROVIDERS:
        where = external.get(provider.name, "sandbox")
        console.print(f"    {provider.name:<11} {where}", markup=False, highlight=False)
    billionmail = f"{info.sandbox_url}/billionmail"
    console.print(f"    BillionMail each integration's customData.baseUrl (the sandbox's: {billionmail})", markup=False)
    for name in WEBHOOK_PROVIDERS:
        if name in external:
            receiver = f"{info.service_url}/api/integrations/{name.lower()}/webhook"
            console.print(
                f"  [yellow]{name} webhooks[/]: the sandbox delivers none. Have {name} deliver to {receiver} "
                "(a tunnel; for Stripe `stripe listen --forward-to`), see INTEGRATIONS.md "
                '"The local stack against a provider\'s test mode"',
                highlight=False,
            )


def run_in_foreground(stack: LocalStack, console: Console) -> int:
    """Start the stack, keep it up until Ctrl-C or SIGTERM, then stop it; the exit code to return.

    0 after an interrupt (a requested stop is a success); 1 when the service exits by itself.
    """
    with _sigterm_as_interrupt():
        try:
            info = stack.start()
            show_urls(info, stack.providers.external if stack.providers else {}, console)
            return _watch(stack, console)
        except KeyboardInterrupt:
            console.print("Stopping…")
            return 0
        finally:
            with _interrupts_ignored():  # a second Ctrl-C must not leave half the stack running
                stack.stop()
            console.print("Local stack stopped.")


def _watch(stack: LocalStack, console: Console) -> int:
    service = stack.service
    if service is None or service.process is None:
        raise RuntimeError("the stack reported started but has no service process")
    while service.process.poll() is None:
        for companion in service.companions:  # its sync worker: without it syncs would queue for nobody
            if companion.process is not None and companion.process.poll() is not None:
                console.print(f"[bold red]The {companion.name} exited with code {companion.process.returncode}[/]:")
                console.print(log_tail(companion.log_path), markup=False, highlight=False)
                return 1
        time.sleep(_POLL_INTERVAL_S)
    console.print(f"[bold red]The service exited with code {service.process.returncode}[/]:")
    console.print(service.log_tail(), markup=False, highlight=False)
    return 1


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def worker_env(stack_file: Path = STACK_DIR / "stack.json") -> dict[str, str]:
    """A worker for the running local stack (`invoke up`): its database, its queue, its providers (the sandbox,
    or those the environment or `.env` points elsewhere)."""
    if not stack_file.exists():
        raise StackNotRunningError(f"no local stack ({stack_file} is missing): start one with `uv run invoke up`")
    info = StackInfo(**json.loads(stack_file.read_text()))
    return {
        "STAGE": "local",
        "DATABASE_URL": info.database_url,
        "SYNC_QUEUE": "syncs",
        **provider_service_env(info.sandbox_url).env,  # the providers `invoke up` chose, from the same settings
    }


def run_worker(env: dict[str, str], concurrency: int | None) -> int:
    """A sync worker in the foreground until Ctrl-C (exit 0) or its own exit (its code)."""
    command = [sys.executable, "-m", WORKER_MODULE]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    with _sigterm_as_interrupt():
        worker = subprocess.Popen(command, env={**os.environ, **env})
        try:
            return worker.wait()
        except KeyboardInterrupt:
            worker.terminate()
            worker.wait()
            return 0
