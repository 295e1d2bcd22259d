"""What every operation shares: the target it acts on, confirmation, progress, git, masking."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from harness.core.paths import PROJECT_ROOT, STACK_DIR
from harness.core.runs import GitError
from harness.core.runs import git as run_git
from harness.core.stages import Stage
from harness.core.tls import client_verify


class OpsError(RuntimeError):
    """An operation refused or failed; the message says what happened and what to do next."""


@dataclass
class Target:
    """The system an operation acts on. Tasks build it from the stage's settings; tests build it directly."""

    stage: Stage
    database_url: str
    checkout: Path = PROJECT_ROOT  # the git working tree the stage's code is deployed from
    state_dir: Path = STACK_DIR / "ops"  # deploy log, release and rollback records
    backups_dir: Path = PROJECT_ROOT / "backups"
    service_url: str | None = None
    redis_url: str | None = None
    redis_key_prefix: str = ""
    deploy_command: str | None = None
    service_env: dict[str, str] = field(default_factory=dict)  # local deploys: extra service settings
    smoke_api_token: str | None = None
    smoke_integration_id: str | None = None
    stripe_webhook_secret: str | None = None
    sandbox_url: str | None = None  # the provider sandbox (the PayPal signer): SANDBOX_URL, or .stack/stack.json
    ca_bundle: Path | None = None  # CA_BUNDLE: trusted for the stage's HTTPS besides the public roots
    pool_capacity: int = 20
    gate_store_url: str | None = None  # where sign-offs live; None: the local files under state_dir
    deploy_wait_s: float = 120.0
    console: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """`verify=` for every HTTP client of the stage's service or sandbox."""
        return client_verify(self.ca_bundle)

    @property
    def protected(self) -> bool:
        return self.stage in ("staging", "production")

    def say(self, message: str) -> None:
        self.console.print(message, highlight=False)


def mask(url: str) -> str:
    """A URL with its password hidden, fit for a terminal, a log or a record."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a database URL (e.g. redis://): mask by hand
        if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
            scheme, rest = url.split("//", 1)
            user = rest.split("@", 1)[0].split(":", 1)[0]
            return f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
        return url


def confirm(target: Target, action: str, *, yes: bool, ask: Callable[[str], str] = input) -> None:
    """Staging and production changes need a typed confirmation (or --yes); local ones do not."""
    if not target.protected or yes:
        return
    try:
        answer = ask(f"{action} on {target.stage.upper()}. Type the stage name to continue: ")
    except EOFError:
        answer = ""
    if answer.strip() != target.stage:
        raise OpsError(f"not confirmed: nothing was changed on {target.stage} (pass --yes in automation)")


@contextmanager
def step(target: Target, description: str) -> Iterator[None]:
    """A long step with a spinner and elapsed time; the outcome is printed when it ends."""
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=target.console, transient=True
    ) as progress:
        progress.add_task(description, total=None)
        yield
    target.say(f"  [green]✓[/] {description}")


def git(checkout: Path, *args: str) -> str:
    """`harness.core.runs.git`, its failure an OpsError: the operations' tasks report those without a traceback."""
    try:
        return run_git(checkout, *args)
    except GitError as error:
        raise OpsError(str(error)) from None


def git_sha(checkout: Path) -> str:
    return git(checkout, "rev-parse", "HEAD")


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S%fZ")


def append_record(path: Path, record: dict[str, Any]) -> None:
    """One JSON object per line: the deploy log, release and rollback records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as log:
        log.write(json.dumps(record, default=str) + "\n")


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
