"""Invoke tasks: `uv run invoke --list`. Each task parses its options and calls `harness`.

Each task imports what it needs of `harness` when it runs: `invoke --list` and `invoke TASK --help` stay fast
(the service's code, SQLAlchemy and friends load only for a task that uses them). `harness.core.stages` is
light on purpose and names the stages for the help texts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task
from rich.console import Console

from harness.core.stages import LOCAL_SERVICE_PORT, STAGES, StageError, parse_stage

STAGE_HELP = f"Target stage: {' | '.join(STAGES)} (default: local)."
console = Console(stderr=True, soft_wrap=True)  # URLs stay on one line, to be copied


@contextlib.contextmanager
def explained_errors() -> Iterator[None]:
    """Errors whose message already says what to do: shown as one message, not a traceback."""
    from harness.core.embedded_postgres import EmbeddedPostgresError
    from harness.core.processes import ServerStartError
    from harness.stack.dev import PortInUseError
    from harness.stack.tokens import TokenError

    try:
        yield
    except (StageError, PortInUseError, EmbeddedPostgresError, ServerStartError, TokenError) as error:
        console.print(f"[bold red]{type(error).__name__}:[/] {error}", highlight=False)
        raise Exit(code=2) from None


@task(
    help={
        "port": f"Port for the service on 127.0.0.1 (default: {LOCAL_SERVICE_PORT}).",
        "workers": "Web processes serving the app (uvicorn --workers; default 1).",
    }
)
def up(c: Context, port: int = LOCAL_SERVICE_PORT, workers: int = 1) -> None:
    """Start the local stack (PostgreSQL, migrations, the service) in the foreground until Ctrl-C.

    PostgreSQL is embedded (data in .stack/) unless DATABASE_URL is set. URLs go to .stack/stack.json.
    `--workers N` serves the web app with N processes (uvicorn --workers; README "Serving with N processes").
    """
    from harness.stack.dev import ensure_port_free, local_stack, run_in_foreground

    if workers < 1:
        console.print("[bold red]--workers must be at least 1[/]")
        raise Exit(code=2)
    with explained_errors():
        ensure_port_free(port)
        code = run_in_foreground(local_stack(port, workers), console)
    if code:
        raise Exit(code=code)


@task(
    help={
        "concurrency": "Syncs at once (default and maximum: SYNC_MAX_CONCURRENT).",
        "stage": STAGE_HELP + " local joins the running `invoke up` stack; others read the environment.",
    }
)
def worker(c: Context, concurrency: int = 0, stage: str = "local") -> None:
    """Run a sync worker in the foreground until Ctrl-C: it runs the stage's queued and scheduled syncs.

    Start as many as you like, on as many machines, against one database: each job runs once.
    """
    from harness.stack.dev import StackNotRunningError, run_worker, worker_env

    try:
        env = worker_env() if parse_stage(stage) == "local" else {}
    except (StageError, StackNotRunningError) as error:
        console.print(f"[bold red]{type(error).__name__}:[/] {error}", highlight=False)
        raise Exit(code=2) from None
    code = run_worker(env, concurrency or None)
    if code:
        raise Exit(code=code)


@task(
    help={
        "user": "Name of the user the token belongs to (created if it does not exist).",
        "label": "A note stored with the token, e.g. what it is for.",
        "stage": STAGE_HELP + " local uses the local stack's database; others use their DATABASE_URL.",
        "rate_limit": "The token's own request limit, e.g. '600/minute' (per second, minute, hour or day), "
        "counted for this token alone; default: the user's, RATE_LIMIT, shared by its tokens.",
    },
    # --user is a flag, never positional: a positional argument would swallow `--help` as the user's name.
    positional=[],
)
def token(c: Context, user: str = "", label: str = "", stage: str = "local", rate_limit: str = "") -> None:
    """Create a new API token for a user and print it (only once: it is stored hashed)."""
    from harness.stack.tokens import TokenError, issue_stage_token

    with explained_errors():
        target = parse_stage(stage)
        if not user.strip():
            raise TokenError("name the token's user: --user NAME")
        limit = f" limited to [bold]{rate_limit}[/]" if rate_limit else ""
        console.print(f"Issuing a token{limit} for user [bold]{user}[/] on stage [bold]{target}[/] …")
        print(issue_stage_token(target, user, label, rate_limit or None))


@task(
    help={
        "stage": STAGE_HELP,
        "pytest_junit": "CI: the JUnit reports (comma-separated, one per test tier) of the pytest runs it just "
        "made on this checkout, judged instead of running the suite again.",
        "only": "Partial run: one checklist section (e.g. 'Stripe Integration' or 'stripe'): its scenarios and "
        "the gates that prove its items.",
        "skip": "Partial run: a gate not to run (repeatable), e.g. --skip load --skip fuzz.",
        "carry_from": "Staging/production: a release report (file or run folder, e.g. a CI artefact) of an earlier "
        "gate of this commit whose proofs count here (repeatable; reports/ and the gate store are read anyway).",
        "waive": "ID=REASON: a checklist item nothing could prove in this run may not block it (repeatable); "
        "recorded in the report with who waived it. A failed item cannot be waived.",
    },
    iterable=["skip", "carry_from", "waive"],
)
def qa(
    c: Context,
    stage: str = "local",
    pytest_junit: str = "",
    only: str = "",
    skip: list[str] | None = None,
    carry_from: list[str] | None = None,
    waive: list[str] | None = None,
) -> None:
    """Release gate: every gate and checklist scenario of a stage, then the release report (exit 0: may release).

    Preflight, static gates, tests, load, fuzz, the checklist scenarios and sign-offs; the report goes to
    reports/<run-id>/release-report.{json,html} (reports/latest points at the newest run).

    Exits 0 only when the verdict is pass; the report states the verdict rule and the reasons.
    """
    from harness.qa import QaOptionError, parse_waivers, run_qa

    with explained_errors():
        try:
            outcome = run_qa(
                parse_stage(stage),
                console=console,
                pytest_junit=[Path(path) for path in pytest_junit.split(",") if path],
                only_section=only or None,
                skip=skip or [],
                carry_from=[Path(path) for path in carry_from or []],
                waivers=parse_waivers(waive or []),
            )
        except QaOptionError as error:
            console.print(f"[bold red]QaOptionError:[/] {error}", highlight=False)
            raise Exit(code=2) from None
    report = outcome.report
    style = "bold green" if report.verdict == "pass" else "bold red"
    partial = f" PARTIAL ({report.partial})" if report.partial else ""
    console.print(f"[{style}]Verdict: {report.verdict.upper()}{partial}[/]  ({report.coverage['summary']})")
    for reason in report.verdict_reasons:
        console.print(f"  - {reason}")
    console.print(f"Report: {outcome.html_path}")
    if report.verdict != "pass":
        raise Exit(code=1)


@task(
    help={
        "stage": STAGE_HELP + " local: a stack of its own; staging: the deployed service and its provider sandbox "
        "(SANDBOX_URL), with users of the run's own, removed afterwards; production is refused.",
        "profile": "smoke | gate | full | stress | sync-burst | staging (load/profiles.toml). Default: gate.",
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
    """Run a Locust load profile (local: a stack of its own; staging: bounded, the stage); exit 1 on a breach.

    Locust's CSV/HTML output (and locally the service's CPU/RSS and database connections) go to
    reports/<run-id>/load/.
    """
    from harness.gates.load import LoadError, run_load_task

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


@task(
    help={
        "rounds": "Rounds (default 3): each runs both modes on both sides, the sides' order flipping every round.",
        "users": "Saturation users, sending without a wait (default 50).",
        "model_users": "Users of the checklist's load model, waiting 2-4 s (default 100).",
        "integrations": "Integrations in the bench user's list (default 10).",
        "seconds": "Measured seconds of a saturation run (default 15); a load-model run measures twice that.",
        "warmup": "Seconds before each measured window (default 5).",
    }
)
def bench(
    c: Context,
    rounds: int = 3,
    users: int = 50,
    model_users: int = 100,
    integrations: int = 10,
    seconds: float = 15.0,
    warmup: float = 5.0,
) -> None:
    """The service against the bare stack (load/ceiling.py): same machine, same PostgreSQL, alternating rounds.

    Prints the table (medians, service/ceiling ratio with its spread) and writes reports/<run-id>/bench/.
    """
    from harness.gates.bench import BenchConfig, BenchError, run_bench_task

    config = BenchConfig(
        rounds=rounds,
        integrations=integrations,
        saturation_users=users,
        saturation_s=seconds,
        model_users=model_users,
        model_s=2 * seconds,
        warmup_s=warmup,
    )
    with explained_errors():
        try:
            folder = run_bench_task(config, say=lambda line: console.print(line, highlight=False, markup=False))
        except BenchError as error:
            console.print(f"[bold red]BenchError:[/] {error}", highlight=False)
            raise Exit(code=2) from None
    console.print(f"Report: {folder}", highlight=False)


# Operations: the checklist's deployment, rollback and monitoring sections as safe tasks (src/harness/ops/).
OPS_HELP = {
    "stage": STAGE_HELP,
    "yes": "Do not ask for confirmation (staging/production).",
    "dry_run": "Print the plan; change nothing.",
}


@contextlib.contextmanager
def ops_errors() -> Iterator[None]:
    from harness.ops.common import OpsError

    with explained_errors():
        try:
            yield
        except OpsError as error:
            console.print(f"[bold red]Failed:[/] {error}", highlight=False)
            raise Exit(code=1) from None


def _target(stage: str):  # type: ignore[no-untyped-def]
    from harness.ops.targets import stage_target

    return stage_target(parse_stage(stage))


@task(
    help={
        "stage": STAGE_HELP,
        "verify": "Also restore into a scratch database and compare row counts.",
        "keep": "Retention: keep only the newest N backups of the stage.",
    }
)
def backup(c: Context, stage: str = "local", verify: bool = False, keep: int = 0) -> None:
    """Deployment 1/2: back up the database (pg_dump -Fc + manifest), verified with pg_restore --list."""
    from harness.ops.backup import create_backup

    with ops_errors():
        create_backup(_target(stage), verify=verify, keep=keep or None)


@task(
    help={**OPS_HELP, "backup": "A backup file with its manifest, or 'latest' (newest manifest; must be unambiguous)."}
)
def restore(c: Context, backup: str, stage: str = "local", yes: bool = False, dry_run: bool = False) -> None:
    """Rollback: restore a checked backup in one transaction (safety backup first), then compare row counts."""
    from harness.ops.restore import restore as run

    with ops_errors():
        run(_target(stage), backup, yes=yes, dry_run=dry_run)


@task(
    help={
        **OPS_HELP,
        "down": "Downgrade to this revision (older than the database's, known to the checkout) instead of upgrading.",
    }
)
def migrate(c: Context, stage: str = "local", down: str = "", yes: bool = False, dry_run: bool = False) -> None:
    """Deployment 1: backup, alembic upgrade head (or --down REV), verify revision, drift and no data loss."""
    from harness.ops.migrate import migrate as run

    with ops_errors():
        run(_target(stage), down=down or None, yes=yes, dry_run=dry_run)


WAIVE_HELP = (
    "A smoke check that may be skipped without failing (repeatable), e.g. --waive sync; shown and recorded. "
    "A skipped check that is not waived fails the run."
)


@task(help={"stage": STAGE_HELP, "waive": WAIVE_HELP}, iterable=["waive"])
def smoke(c: Context, stage: str = "local", waive: list[str] | None = None) -> None:
    """Deployment 4/5: smoke and post-deploy checks (health, metrics, sync, Stripe and PayPal webhooks, logs).

    Local: the provider sandbox of `invoke up` signs a PayPal event. Staging/production: an unsigned PayPal
    event must be refused. Production is read-only or self-cleaning: the smoke integration is read, not synced.
    Exits 1 when a check failed, or was skipped and not waived.
    """
    from harness.ops.smoke import smoke as run

    with ops_errors():
        if not run(_target(stage), waive or []).passed:
            raise Exit(code=1)


@task(help=OPS_HELP)
def deploy(c: Context, stage: str = "local", yes: bool = False, dry_run: bool = False) -> None:
    """Deployment 3: deploy the checkout's commit (local: restart the service), wait until the stage reports
    that commit at /api/version (DEPLOY_WAIT_S), and record sha and time in the deploy log."""
    from harness.ops.deploy import deploy as run

    with ops_errors():
        run(_target(stage), yes=yes, dry_run=dry_run)


@task(help={**OPS_HELP, "waive": WAIVE_HELP}, iterable=["waive"])
def release(
    c: Context, stage: str = "local", yes: bool = False, dry_run: bool = False, waive: list[str] | None = None
) -> None:
    """Production 1-5: (gate + sign-offs) backup, migrate, deploy, smoke; rolls back automatically on failure."""
    from harness.core.paths import REPORTS_DIR
    from harness.ops.release import release as run

    with ops_errors():
        run(_target(stage), reports_dir=REPORTS_DIR, yes=yes, dry_run=dry_run, waive=waive or [])


@task(
    help={
        **OPS_HELP,
        "disable": "Comma-separated integration types to disable, e.g. XERO,MYOB.",
        "accept_data_loss": "Restore even though rows were written after the backup (they are listed first, "
        "and kept in the safety backup).",
        "waive": WAIVE_HELP,
    },
    iterable=["waive"],
)
def rollback(
    c: Context,
    stage: str = "local",
    disable: str = "",
    yes: bool = False,
    dry_run: bool = False,
    accept_data_loss: bool = False,
    waive: list[str] | None = None,
) -> None:
    """Rollback procedure, planned from what the stage runs: restore the pre-release backup (stops first if rows
    written since would be lost), redeploy the previous release's commit, clear this stage's cache, verify.
    Exits 0 with "nothing to roll back" when the stage already runs the previous release."""
    from harness.ops.rollback import rollback as run

    with ops_errors():
        run(
            _target(stage),
            disable=[d for d in disable.split(",") if d],
            yes=yes,
            dry_run=dry_run,
            accept_data_loss=accept_data_loss,
            waive=waive or [],
        )


@task(help={"stage": STAGE_HELP, "json": "Print the result as JSON (for machines)."})
def monitor(c: Context, stage: str = "local", json: bool = False) -> None:
    """Monitoring: the daily checks as tables and the seven alert rules; exit 1 when an alert fires."""
    import json as json_module

    from harness.ops.monitor import evaluate, show

    with ops_errors():
        target = _target(stage)
        result = evaluate(target)
        if json:
            print(json_module.dumps(result.as_json(), indent=2, default=str))
        else:
            show(target, result)
    if result.firing:
        raise Exit(code=1)


@task(
    help={
        "stage": STAGE_HELP + " Its DRIFT_* settings name the real providers' read-only credentials.",
        "strict": "Exit 1 when any answer differs from the sandbox's or breaks its spec (default: report only).",
    }
)
def drift(c: Context, stage: str = "staging", strict: bool = False) -> None:
    """Drift: the same read-only requests to the real providers and to a fresh sandbox; each real answer
    checked against the provider's spec, its fields compared with the sandbox's. Writes reports/drift-<time>/.
    """
    from datetime import UTC, datetime

    from harness.core.paths import REPORTS_DIR
    from harness.core.settings import stage_settings
    from harness.ops.drift import run_drift, write_drift

    with ops_errors():
        results = run_drift(stage_settings(parse_stage(stage)), say=lambda line: console.print(line, markup=False))
    folder = REPORTS_DIR / f"drift-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    console.print(f"Written: {write_drift(results, folder)}", highlight=False)
    problems = [r for r in results if r.drifted or not r.real_spec.startswith(("valid", "undocumented"))]
    console.print(f"{len(problems)} of {len(results)} requests differ from the sandbox or break the spec")
    if strict and problems:
        raise Exit(code=1)


@task(
    help={
        "role": "qa (SIGN-01) | security (SIGN-02) | devops (SIGN-03) | product (SIGN-04) | maintenance (MONTH-04: "
        "maintenance windows planned, or none needed).",
        "name": "Who signs off (default: the CI identity, GITHUB_ACTOR / GITLAB_USER_LOGIN / CI_COMMIT_AUTHOR; "
        "at a terminal, $USER).",
        "stage": STAGE_HELP + " Recorded in that stage's gate store (GATE_STORE_URL, else its DATABASE_URL; "
        "local without GATE_STORE_URL: .stack/ops/signoffs/).",
    }
)
def signoff(c: Context, role: str, name: str = "", stage: str = "local") -> None:
    """Sign-off: record an attestation (qa/security/devops/product/maintenance) for the current git sha.

    A production release needs all five for the sha it releases; the release report shows them. Stored where
    every runner of the stage sees them, with who (and where the name came from), when, commit and role.
    """
    from harness.ops.common import Target
    from harness.ops.gate_store import gate_store_url
    from harness.ops.signoff import record_signoff

    with ops_errors():
        chosen = parse_stage(stage)
        target = Target(stage=chosen, database_url="", gate_store_url=gate_store_url(chosen))
        record_signoff(target, role, name or None)


@task(help={"period": "weekly | monthly", "stage": STAGE_HELP})
def report(c: Context, period: str, stage: str = "local") -> None:
    """Weekly/monthly checks: error patterns, refresh rate, rate limits, usage, trends, pip-audit.

    Prints JSON. Vulnerabilities are "unknown" (with the reason) when pip-audit cannot reach its database.
    """
    import json as json_module

    from harness.ops.periodic_checks import build_report

    if period not in ("weekly", "monthly"):
        console.print("[bold red]period must be weekly or monthly[/]")
        raise Exit(code=2)
    with ops_errors():
        print(json_module.dumps(build_report(_target(stage), period), indent=2, default=str))


@task(
    help={
        "stage": STAGE_HELP + " local: a stack of its own; staging: bounded in requests; production: refused.",
        "max_examples": "Test cases per operation and phase (default: contract/schemathesis.toml's).",
        "seed": "Another seed than the configuration's fixed one (local): an independent run explores other cases.",
    }
)
def fuzz(c: Context, stage: str = "local", max_examples: int = 0, seed: int = -1) -> None:
    """Fuzz every operation of the service's OpenAPI with Schemathesis (config: contract/schemathesis.toml).

    JUnit, a VCR cassette (replayable) and the log go to reports/<run-id>/fuzz/. Exits 1 on any failure.
    """
    from harness.core.processes import log_tail
    from harness.gates.fuzz import run_fuzz_task

    with explained_errors():
        outcome = run_fuzz_task(parse_stage(stage), max_examples=max_examples or None, seed=None if seed < 0 else seed)
    style = "bold green" if outcome.passed else "bold red"
    console.print(f"[{style}]{outcome.summary()}[/]", highlight=False)
    if not outcome.passed:
        console.print(log_tail(outcome.report_dir / "schemathesis.log", 6000), highlight=False, markup=False)
        raise Exit(code=1)
