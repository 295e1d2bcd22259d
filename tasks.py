"""Invoke tasks: `uv run invoke --list`. Each task parses its options and calls `harness`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from invoke import Context, Exit, task
from rich.console import Console

from harness.embedded_postgres import EmbeddedPostgresError
from harness.local import DEFAULT_PORT, PortInUseError, ensure_port_free, local_stack, run_in_foreground
from harness.processes import ServerStartError
from harness.qa import run_qa
from harness.stages import STAGES, StageError, parse_stage

STAGE_HELP = f"Target stage: {' | '.join(STAGES)} (default: local)."
console = Console(stderr=True, soft_wrap=True)  # URLs stay on one line, to be copied


@contextlib.contextmanager
def explained_errors() -> Iterator[None]:
    """Errors whose message already says what to do: shown as one message, not a traceback."""
    from harness.tokens import TokenError

    try:
        yield
    except (StageError, PortInUseError, EmbeddedPostgresError, ServerStartError, TokenError) as error:
        console.print(f"[bold red]{type(error).__name__}:[/] {error}", highlight=False)
        raise Exit(code=2) from None


@task(help={"port": f"Port for the service on 127.0.0.1 (default: {DEFAULT_PORT})."})
def up(c: Context, port: int = DEFAULT_PORT) -> None:
    """Start the local stack (PostgreSQL, migrations, the service) in the foreground until Ctrl-C.

    PostgreSQL is embedded (data in .stack/) unless DATABASE_URL is set. URLs go to .stack/stack.json.
    """
    with explained_errors():
        ensure_port_free(port)
        code = run_in_foreground(local_stack(port), console)
    if code:
        raise Exit(code=code)


@task(
    help={
        "user": "Name of the user the token belongs to (created if it does not exist).",
        "label": "A note stored with the token, e.g. what it is for.",
        "stage": STAGE_HELP + " local uses the local stack's database; others use their DATABASE_URL.",
    }
)
def token(c: Context, user: str, label: str = "", stage: str = "local") -> None:
    """Create a new API token for a user and print it (only once: it is stored hashed)."""
    from harness.tokens import issue_stage_token  # imports the service's code only when needed

    with explained_errors():
        target = parse_stage(stage)
        console.print(f"Issuing a token for user [bold]{user}[/] on stage [bold]{target}[/] …")
        print(issue_stage_token(target, user, label))


@task(help={"stage": STAGE_HELP})
def qa(c: Context, stage: str = "local") -> None:
    """Run the release gate: every gate of the stage, then reports/<run-id>/release-report.{json,html}.

    Exits 0 only when the verdict is pass; the report states the verdict rule and the reasons.
    """
    with explained_errors():
        outcome = run_qa(parse_stage(stage), console=console)
    report = outcome.report
    style = "bold green" if report.verdict == "pass" else "bold red"
    console.print(f"[{style}]Verdict: {report.verdict.upper()}[/]  ({report.coverage['summary']})")
    for reason in report.verdict_reasons:
        console.print(f"  - {reason}")
    console.print(f"Report: {outcome.html_path}")
    if report.verdict != "pass":
        raise Exit(code=1)


@task(
    help={
        "stage": STAGE_HELP + " Only local today (the users connect sandbox organisations).",
        "profile": "smoke | gate | full | stress | sync-burst (load/profiles.toml). Default: gate.",
        "workers": "Run Locust distributed: a master plus N worker processes (default 0: one process).",
        "thresholds": "Thresholds file (default load/thresholds.toml).",
        "sandbox_fault": "A sandbox fault rule (JSON) injected for the run, e.g. a delay, to see the gate fail.",
    }
)
def load(
    c: Context,
    stage: str = "local",
    profile: str = "gate",
    workers: int = 0,
    thresholds: str = "",
    sandbox_fault: str = "",
) -> None:
    """Run a Locust load profile against a stack of its own; exit 1 naming any breached threshold.

    Locust's CSV/HTML output, the service's CPU/RSS and the database's connections go to reports/<run-id>/load/.
    """
    from harness.load import LoadError, run_load_task

    with explained_errors():
        try:
            outcome = run_load_task(
                parse_stage(stage),
                profile,
                workers=workers,
                thresholds=thresholds,
                sandbox_fault=sandbox_fault,
                echo=lambda line: console.print(line, highlight=False, markup=False),
            )
        except LoadError as error:
            console.print(f"[bold red]LoadError:[/] {error}", highlight=False)
            raise Exit(code=2) from None
    console.print(f"Report: {outcome.report_dir}", highlight=False)
    if not outcome.passed:
        raise Exit(code=1)
