"""The checklist scenarios as a gate: `features/` run by pytest-bdd against the stage.

For `local` the gate starts a stack of its own (fresh database, the provider sandbox, the service);
for staging and production it points the scenarios at the stage's URLs. Only scenarios tagged with
the stage run there. Each scenario's outcome, with its tags and steps, goes into the report, where
the checklist ids it carries take their status from it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.database import drop_database
from harness.core.paths import PROJECT_ROOT
from harness.core.processes import log_tail, run_logged
from harness.core.settings import stage_settings
from harness.core.stages import ALL_STAGES, Stage, StageError
from harness.gates.base import GateContext, GateResult
from harness.gates.commands import COMMAND_TIMEOUT_S
from harness.gates.fidelity import EXCHANGES_FILE, fidelity_dir
from harness.gates.scenario_results import RESULTS_OPTION, ScenarioOutcome, read_results
from harness.gates.scenario_target import ScenarioTarget
from harness.stack.local import LocalStack

RESULTS_NAME = "scenarios.json"
CUCUMBER_NAME = "cucumber.json"
JUNIT_NAME = "scenarios-junit.xml"
LOG_NAME = "scenarios.log"

# The local stage's service for scenarios: retries keep their shape (exponential, jitter, Retry-After
# honoured) but start small, so that "retried until it gives up" takes a second, not a minute.
LOCAL_SERVICE_ENV = {"HTTP_RETRY_INITIAL_WAIT_S": "0.05", "HTTP_RETRY_BACKOFF_MAX_S": "0.5", "HTTP_RETRY_ATTEMPTS": "4"}


@dataclass(frozen=True)
class ScenarioGate:
    name: str = "scenarios"
    stages: frozenset[Stage] = ALL_STAGES
    proves: tuple[str, ...] = ()  # each scenario carries its own ids
    only_ids: frozenset[str] | None = None  # run only scenarios carrying one of these ids
    # Run another copy of the service package (defect-injection tests): its parent goes first on PYTHONPATH.
    service_source: Path | None = None
    extra_pytest_args: tuple[str, ...] = ()
    timeout_s: float = COMMAND_TIMEOUT_S
    service_env: dict[str, str] = field(default_factory=dict)
    # The PostgreSQL server the local stack creates its database on: DATABASE_URL's, else an embedded one.
    database_server_url: str | None = None

    def run(self, context: GateContext) -> GateResult:
        with self._target(context) as target:
            # Steps that start extra service processes (another stage's settings) must run the same copy.
            extra_env = self._pythonpath() if self.service_source is not None else {}
            expression = self.marker_expression(context.stage)
            return run_scenarios(target, context.run_dir, expression, self.timeout_s, extra_env)

    def _pythonpath(self) -> dict[str, str]:
        assert self.service_source is not None
        paths = [str(self.service_source.parent), os.environ.get("PYTHONPATH", "")]
        return {"PYTHONPATH": os.pathsep.join(path for path in paths if path)}

    def marker_expression(self, stage: Stage) -> str:
        if not self.only_ids:
            return stage
        return f"{stage} and ({' or '.join(sorted(self.only_ids))})"

    @contextmanager
    def _target(self, context: GateContext) -> Iterator[ScenarioTarget]:
        if context.stage == "local":
            with self._local_stack(context.run_dir) as target:
                yield target
        else:
            yield remote_target(context.stage, context.project_root, context.run_dir)

    @contextmanager
    def _local_stack(self, run_dir: Path) -> Iterator[ScenarioTarget]:
        service_env = {**LOCAL_SERVICE_ENV, **self.service_env}
        if self.service_source is not None:
            service_env.update(self._pythonpath())
        redis_url = os.environ.get("REDIS_URL")
        prefix = f"integrations:qa-{uuid.uuid4().hex[:8]}"
        service_env["REDIS_KEY_PREFIX"] = prefix
        if redis_url:
            service_env["REDIS_URL"] = redis_url
        stack = LocalStack(
            state_dir=Path(tempfile.mkdtemp(prefix="scenario-stack-")),
            database_name=f"qa_{uuid.uuid4().hex[:8]}",
            external_database_url=self.database_server_url or os.environ.get("DATABASE_URL") or None,
            data_dir=PROJECT_ROOT / ".stack" / "pgdata-scenarios",
            service_env=service_env,
            # Every Xero and PayPal answer, for the fidelity gate that runs next.
            sandbox_env={"SANDBOX_EXCHANGE_LOG": str(fidelity_dir(run_dir) / EXCHANGES_FILE)},
        )
        info = stack.start()
        assert stack.service is not None
        try:
            yield ScenarioTarget(
                stage="local",
                service_url=info.service_url,
                project_root=PROJECT_ROOT,
                run_dir=run_dir,
                database_url=info.database_url,
                sandbox_url=info.sandbox_url,
                service_log=stack.service.log_path,
                stripe_webhook_secret=stack.webhook_settings["STRIPE_WEBHOOK_SECRETS"],
                paypal_webhook_id=stack.webhook_settings["PAYPAL_WEBHOOK_ID"],
                redis_url=redis_url,
                redis_key_prefix=prefix,
            )
        finally:
            for process in (stack.service, stack.sandbox):
                if process is not None:
                    process.stop()
                    with suppress(OSError):
                        shutil.copyfile(process.log_path, run_dir / f"scenarios-{process.name.replace(' ', '-')}.log")
            with suppress(Exception):  # a leftover database is harmless; the run's result matters more
                drop_database(info.database_url, stack.database_name)
            stack.stop()
            shutil.rmtree(stack.state_dir, ignore_errors=True)


def remote_target(stage: Stage, project_root: Path, run_dir: Path) -> ScenarioTarget:
    """Staging or production: the URLs and secrets from the stage's settings (env or `.env.<stage>`)."""
    settings = stage_settings(stage, project_root)
    if not settings.service_url:
        raise StageError(f"SERVICE_URL is not set for stage {stage!r}: the scenarios need the service's base URL")
    secrets = settings.stripe_webhook_secrets.get_secret_value() if settings.stripe_webhook_secrets else ""
    return ScenarioTarget(
        stage=stage,
        service_url=settings.service_url,
        project_root=project_root,
        run_dir=run_dir,
        database_url=settings.database_url.get_secret_value() if settings.database_url else None,
        sandbox_url=settings.sandbox_url,
        service_log=settings.service_log,
        ca_bundle=settings.ca_bundle,
        stripe_webhook_secret=secrets.split(",")[0].strip() or None,
        paypal_webhook_id=settings.paypal_webhook_id,
        stripe_test_secret_key=settings.stripe_test_secret_key.get_secret_value()
        if settings.stripe_test_secret_key
        else None,
        stripe_api_base=settings.stripe_api_base,
        redis_url=settings.redis_url.get_secret_value() if settings.redis_url else None,
        redis_key_prefix=settings.redis_key_prefix,
    )


def run_scenarios(
    target: ScenarioTarget,
    run_dir: Path,
    marker_expression: str,
    timeout_s: float,
    extra_env: dict[str, str] | None = None,
) -> GateResult:
    """pytest-bdd over `steps/` with the stage's marker expression; the outcome per scenario."""
    results_path = run_dir / RESULTS_NAME
    log_path = run_dir / LOG_NAME
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(target.project_root / "steps"),
        "-m",
        marker_expression,
        "-p",
        "no:cacheprovider",
        # Plugins the environment installs for the fuzz gate and the project's tests, which no step uses:
        # importing them (Hypothesis, Schemathesis) took seconds of the gate's start.
        *("-p", "no:hypothesispytest", "-p", "no:schemathesis"),
        # One process: scenarios share the stage (bursts, provider-wide token expiry) and are recorded here.
        "--numprocesses=0",
        f"{RESULTS_OPTION}={results_path}",
        f"--cucumberjson={run_dir / CUCUMBER_NAME}",
        f"--junitxml={run_dir / JUNIT_NAME}",
    ]
    # The stage's secrets travel in the environment only: run_logged writes the command line to the log.
    env = {**os.environ, **target.to_env(), **(extra_env or {})}
    exit_code = run_logged(tuple(command), log_path, cwd=target.project_root, timeout_s=timeout_s, env=env)
    outcomes = read_results(results_path)
    evidence = tuple(path for path in (results_path, run_dir / CUCUMBER_NAME, log_path) if path.exists())
    return judge(outcomes, exit_code, marker_expression, log_path, evidence)


def judge(
    outcomes: list[ScenarioOutcome], exit_code: int, marker_expression: str, log_path: Path, evidence: tuple[Path, ...]
) -> GateResult:
    counts = {status: sum(1 for outcome in outcomes if outcome.status == status) for status in ("passed", "failed")}
    skipped = len(outcomes) - counts["passed"] - counts["failed"]
    summary = f"{len(outcomes)} scenarios ({marker_expression}): {counts['passed']} passed, {counts['failed']} failed"
    summary += f", {skipped} skipped" if skipped else ""
    if not outcomes:
        detail = f"no scenario ran for `-m {marker_expression}` (pytest exited {exit_code}):\n{log_tail(log_path)}"
        return GateResult("failed", detail, evidence)
    if counts["failed"]:
        failed = [f"{outcome.feature}: {outcome.name}" for outcome in outcomes if outcome.status == "failed"]
        return GateResult("failed", summary + "\n" + "\n".join(failed), evidence, scenarios=tuple(outcomes))
    if exit_code != 0:  # e.g. a collection error in a feature the marker filtered out of the results
        return GateResult(
            "failed", f"{summary}; pytest exited {exit_code}:\n{log_tail(log_path)}", evidence, tuple(outcomes)
        )
    return GateResult("passed", summary, evidence, scenarios=tuple(outcomes))
