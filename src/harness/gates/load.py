"""`invoke load`: run a Locust profile against the stack, sample the service's resources, judge thresholds.

Locust runs in its own process (it patches the standard library with gevent), started here with the
run's settings in environment variables and a private setup file (tokens, the Stripe signing secret)
that lives outside the report folder and is deleted afterwards. While it runs, a thread samples the
service's CPU and RSS (psutil on its process) and the database's connections (`pg_stat_activity`;
the service exposes no pool metrics, so its pool usage is its connection count against the pool's
limit). Everything lands in the report folder beside Locust's CSV and HTML output.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.core.database import drop_database
from harness.core.paths import PROJECT_ROOT
from harness.core.processes import run_logged
from harness.core.stages import Stage, StageError
from harness.gates.load_results import (
    Benchmark,
    LoadResults,
    read_load_results,
    write_benchmarks,
    write_resources_summary,
)
from harness.gates.load_stage import SANDBOX_STRIPE_KEY, stage_load_setup
from harness.gates.resources import ResourceSampler
from harness.stack.local import LocalStack
from harness.stack.tokens import issue_tokens

LOAD_DIR = PROJECT_ROOT / "load"
LOCUSTFILE = LOAD_DIR / "locustfile.py"
PROFILES_FILE = LOAD_DIR / "profiles.toml"
DEFAULT_THRESHOLDS = LOAD_DIR / "thresholds.toml"


class LoadError(RuntimeError):
    """The load run could not be set up; the message says what to do."""


@dataclass(frozen=True)
class LoadRun:
    """A finished load run: Locust's exit code, its results (None: it wrote none) and the sampled resources."""

    exit_code: int
    report_dir: Path
    results: LoadResults | None
    resources: dict[str, Any]  # the sampler's summary (harness.gates.resources); empty on a deployed stage
    breaches: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.results is not None and not self.breaches


def profile_users(name: str, path: Path = PROFILES_FILE) -> tuple[int, float]:
    """(most users, expected seconds) of a profile, read from the file the locustfile reads."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    if name not in document:
        raise LoadError(f"unknown load profile {name!r}; profiles in {path.name}: {', '.join(document)}")
    raw = document[name]
    users = int(raw.get("max_users", raw.get("users", 1)))
    if raw.get("kind") == "stress":
        steps = 1 + -(-(users - int(raw["start_users"])) // int(raw["step_users"]))
        return users, steps * float(raw["step_s"])
    return users, float(raw.get("warmup_s", 0)) + float(raw.get("steady_s", raw.get("max_s", 0)))


def profile_thresholds(name: str, path: Path = PROFILES_FILE) -> Path:
    """The thresholds a profile is judged by when none are named: its own file, else thresholds.toml."""
    own = tomllib.loads(path.read_text(encoding="utf-8")).get(name, {}).get("thresholds")
    return LOAD_DIR / own if own else DEFAULT_THRESHOLDS


def run_load(
    stage: Stage,
    profile: str,
    report_dir: Path,
    *,
    workers: int = 0,
    thresholds: Path = DEFAULT_THRESHOLDS,
    sandbox_faults: Sequence[dict[str, Any]] = (),
    log: Any = None,
    ceiling_ratios: dict[str, dict[str, float]] | None = None,
) -> LoadRun:
    """Run the profile and return what it measured: on a stack of its own for the local stage (with the
    service's resources sampled), against the deployed stage otherwise (`harness.gates.load_stage`).
    `ceiling_ratios`: the bench's service/ceiling ratios of this run, which the ratio thresholds judge."""
    if not thresholds.exists():
        raise LoadError(f"thresholds file {thresholds} does not exist")
    users, expected_s = profile_users(profile)
    report_dir.mkdir(parents=True, exist_ok=True)
    say = log or (lambda message: None)

    def measure(setup: dict[str, Any]) -> int:
        with _private_file(setup) as setup_path:
            say(f"locust: profile {profile}, {users} users, ~{expected_s:.0f} s, report in {report_dir}")
            return run_locust(
                profile,
                setup_path,
                report_dir,
                workers=workers,
                thresholds=thresholds,
                timeout_s=expected_s + 180,
                ceiling_ratios=ceiling_ratios,
            )

    resources: dict[str, Any] = {}
    if stage != "local":
        if sandbox_faults:
            raise StageError("--sandbox-fault is for the local stage: a shared stage's providers are not ours to break")
        with stage_load_setup(stage, users) as setup:
            say(f"stage {stage}: service {setup['service_url']}; {users} users of this run")
            exit_code = measure(setup)
    else:
        exit_code, resources = _measure_on_local_stack(report_dir, users, sandbox_faults, say, measure)
    results = read_load_results(report_dir)
    breaches = list(results.breaches) if results else ["Locust wrote no results (see locust.log)"]
    write_resources_summary(resources, report_dir)
    if results:
        write_benchmarks(results, report_dir)
    return LoadRun(exit_code, report_dir, results, resources, breaches)


def _measure_on_local_stack(
    report_dir: Path,
    users: int,
    sandbox_faults: Sequence[dict[str, Any]],
    say: Callable[[str], object],
    measure: Callable[[dict[str, Any]], int],
) -> tuple[int, dict[str, Any]]:
    """Locust's exit code and the service's resources, measured on a stack of the run's own."""
    with _local_stack(report_dir) as stack:
        assert stack.info is not None
        assert stack.service is not None
        assert stack.service.process is not None
        say(f"stack up: service {stack.info.service_url}; issuing {users} user tokens")
        for fault in sandbox_faults:
            httpx.post(f"{stack.info.sandbox_url}/_sandbox/faults", json=fault, timeout=10).raise_for_status()
        names = [f"load-user-{number}" for number in range(users)]
        setup = {
            "service_url": stack.info.service_url,
            "sandbox_url": stack.info.sandbox_url,
            "database_url": stack.info.database_url,
            "stripe_webhook_secret": stack.webhook_settings["STRIPE_WEBHOOK_SECRETS"],
            "stripe_api_key": SANDBOX_STRIPE_KEY,
            "tokens": issue_tokens(stack.info.database_url, names, "load test"),
        }
        pid, csv_path = stack.service.process.pid, report_dir / "resources.csv"
        with ResourceSampler(pid, stack.info.database_url, csv_path) as sampler:
            exit_code = measure(setup)
        return exit_code, sampler.summary()


def run_locust(
    profile: str,
    setup_path: Path,
    report_dir: Path,
    *,
    workers: int,
    thresholds: Path,
    timeout_s: float,
    ceiling_ratios: dict[str, dict[str, float]] | None = None,
) -> int:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--csv",
        str(report_dir / "locust"),
        "--csv-full-history",
        "--html",
        str(report_dir / "locust.html"),
        "--logfile",
        str(report_dir / "locust.log"),
        "--only-summary",
        "--stop-timeout",
        "30",
        # Failed requests are judged by the fail_rate thresholds, not by Locust's any-error rule.
        "--exit-code-on-error",
        "0",
    ]
    if workers > 0:
        command += ["--processes", str(workers)]
    env = {
        **os.environ,
        "LOAD_SETUP": str(setup_path),
        "LOAD_PROFILE": profile,
        "LOAD_THRESHOLDS": str(thresholds.resolve()),
        "LOAD_REPORT_DIR": str(report_dir.resolve()),
        "LOAD_WORKERS": str(workers),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    if ceiling_ratios is not None:
        env["LOAD_CEILING_RATIOS"] = json.dumps(ceiling_ratios)
    output = report_dir / "locust-output.log"
    return run_logged(command, output, cwd=PROJECT_ROOT, timeout_s=timeout_s, env=env, name="Locust")


@contextmanager
def one_load_run_at_a_time() -> Iterator[None]:
    """Load runs share the load server's data directory and measure the machine: a second run (another
    terminal, another test worker) waits until the first is done."""
    lock_path = PROJECT_ROOT / ".stack" / "load-run.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _local_stack(report_dir: Path) -> Iterator[LocalStack]:
    """A stack of the run's own: a fresh database on the load server, the sandbox, the service."""
    with one_load_run_at_a_time(), _started_stack(report_dir) as stack:
        yield stack


@contextmanager
def _started_stack(report_dir: Path) -> Iterator[LocalStack]:
    stack = LocalStack(
        state_dir=Path(tempfile.mkdtemp(prefix="load-stack-")),
        database_name=f"load_{uuid.uuid4().hex[:8]}",
        data_dir=PROJECT_ROOT / ".stack" / "pgdata-load",
        sandbox_env={"SANDBOX_SEED_INVOICES": "100"},
        # One load generator stands in for Stripe's whole delivery fleet, from one address.
        service_env={"WEBHOOK_RATE_LIMIT": "20000/minute"},
    )
    stack.start()
    try:
        yield stack
    finally:
        server_url = None
        if stack.info is not None and stack.embedded is not None:
            server_url = stack.info.database_url
        for process in (stack.service, stack.sandbox):
            if process is not None:
                process.stop()
                with suppress(OSError):
                    (report_dir / f"{process.name.replace(' ', '-')}.log").write_bytes(process.log_path.read_bytes())
        if server_url is not None:
            with suppress(Exception):  # a leftover database is harmless; the run's result matters more
                drop_database(server_url, stack.database_name)
        stack.stop()


@contextmanager
def _private_file(document: dict[str, Any]) -> Iterator[Path]:
    """A 0600 file outside the report folder for the tokens and the signing secret; deleted afterwards."""
    descriptor, name = tempfile.mkstemp(prefix="load-setup-", suffix=".json")
    path = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        yield path
    finally:
        path.unlink(missing_ok=True)


def collect_benchmarks(run_dir: Path) -> list[Benchmark]:
    """The benchmarks of the load gate's run in `<run>/load/`, for the release report (none if it did not run)."""
    results = read_load_results(run_dir / "load")
    return results.benchmarks() if results else []


def summarize(outcome: LoadRun) -> str:
    """Per-operation figures, the breaches and the resources, as lines for a console or a gate's detail."""
    lines = []
    results = outcome.results
    if results:
        lines.append(f"profile {results.profile}: measured window {results.window_s} s")
        for name, stats in results.operations.items():
            lines.append(
                f"  {name}: {stats.requests} requests, {100 * stats.fail_rate:.2f} % failed, "
                f"p50 {stats.p50:g} ms, p95 {stats.p95:g} ms, p99 {stats.p99:g} ms"
            )
        if results.knee_users is not None or results.steps:
            lines.append(f"  stress knee: {results.knee_users} users (last step that held)")
    resources = outcome.resources
    if resources.get("samples"):
        lines.append(
            f"  service: peak RSS {resources['service_rss_mb_peak']} MB, "
            f"CPU avg {resources['service_cpu_percent_avg']} % "
            f"/ peak {resources['service_cpu_percent_peak']} % (of {resources['cpu_cores']} cores x 100); database "
            f"connections peak {resources['db_connections_peak']} (service {resources['service_db_connections_peak']}"
            f" of its pool's {resources['pool_limit']})"
        )
    if results and results.unjudged:
        unjudged = ", ".join(results.unjudged)
        lines.append(f"  not judged (no ceiling measured in this run; LOAD_BENCH=1 runs the bench first): {unjudged}")
    lines += [f"THRESHOLD BREACHED: {breach}" for breach in outcome.breaches]
    if outcome.exit_code not in (0, 1):
        lines.append(f"Locust exited {outcome.exit_code}: see {outcome.report_dir / 'locust-output.log'}")
    return "\n".join(lines)


def run_load_task(
    stage: Stage,
    profile: str,
    *,
    workers: int = 0,
    thresholds: str = "",
    sandbox_fault: str = "",
    reports_dir: Path | None = None,
    echo: Any = None,
) -> LoadRun:
    """`invoke load`: a new `reports/<run-id>/load/` folder, the run, and its summary echoed."""
    from datetime import UTC, datetime

    from harness.core.paths import REPORTS_DIR
    from harness.core.runs import git_state, new_run_dir

    say = echo or (lambda message: None)
    faults: list[dict[str, Any]] = []
    if sandbox_fault:
        try:
            parsed = json.loads(sandbox_fault)
        except json.JSONDecodeError as error:
            raise LoadError(f"--sandbox-fault must be a JSON object (a sandbox fault rule): {error}") from None
        faults = parsed if isinstance(parsed, list) else [parsed]
    run_dir = new_run_dir(reports_dir or REPORTS_DIR, datetime.now(UTC), git_state(PROJECT_ROOT)[0])
    outcome = run_load(
        stage,
        profile,
        run_dir / "load",
        workers=workers,
        thresholds=Path(thresholds) if thresholds else profile_thresholds(profile),
        sandbox_faults=faults,
        log=say,
    )
    say(summarize(outcome))
    return outcome
