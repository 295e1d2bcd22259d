"""`invoke fuzz`: Schemathesis (v4) against the running service's OpenAPI schema, authenticated.

Configuration is `contract/schemathesis.toml`; this module starts what the stage needs, issues a
token, and runs the `schemathesis` CLI as a subprocess with JUnit and VCR (replayable) reports in the
run's folder. Local: a stack of its own. Staging: the deployed service, bounded in requests (a rate
limit times a time budget, few examples). Production: refused, fuzzing writes data.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core.junit import read_junit
from harness.core.paths import PROJECT_ROOT
from harness.core.processes import run_logged
from harness.core.stages import Stage, StageError
from harness.stack.local import LocalStack

CONFIG_FILE = PROJECT_ROOT / "contract" / "schemathesis.toml"
# Staging is a shared, deployed system: at most STAGING_RATE x STAGING_MAX_TIME_S requests.
# The rate stays under the service's default per-user limit (600/minute), so that the run fuzzes the API
# rather than the limiter.
STAGING_RATE = "300/m"
STAGING_MAX_TIME_S = 90
STAGING_MAX_EXAMPLES = 3


@dataclass(frozen=True)
class FuzzOutcome:
    exit_code: int
    report_dir: Path
    tests: int
    failures: int
    errors: int

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.failures == 0 and self.errors == 0

    def summary(self) -> str:
        return (
            f"schemathesis exited {self.exit_code}: {self.tests} operations/scenarios tested, "
            f"{self.failures} failed, {self.errors} errors (junit.xml, cassette.yaml in {self.report_dir})"
        )


def schemathesis_command(schema_url: str, report_dir: Path, extra_args: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG_FILE),
        "--no-color",
        "run",
        schema_url,
        "--report",
        "junit,vcr",
        "--report-dir",
        str(report_dir),
        "--report-junit-path",
        str(report_dir / "junit.xml"),
        "--report-vcr-path",
        str(report_dir / "cassette.yaml"),
        *extra_args,
    ]


def run_schemathesis(
    schema_url: str, token: str, report_dir: Path, extra_args: Sequence[str] = (), timeout_s: float = 15 * 60
) -> FuzzOutcome:
    """Run the CLI; the token travels in the environment (the config reads ${FUZZ_API_TOKEN})."""
    report_dir.mkdir(parents=True, exist_ok=True)
    exit_code = run_logged(
        schemathesis_command(schema_url, report_dir, extra_args),
        report_dir / "schemathesis.log",
        cwd=PROJECT_ROOT,
        timeout_s=timeout_s,
        env={**os.environ, "FUZZ_API_TOKEN": token},
        name="schemathesis",
    )
    counts = read_junit(report_dir / "junit.xml")
    return FuzzOutcome(exit_code, report_dir, counts.tests, counts.failures, counts.errors)


def run_fuzz(stage: Stage, report_dir: Path, *, max_examples: int | None = None) -> FuzzOutcome:
    if stage == "production":
        raise StageError("invoke fuzz refuses production: fuzzing creates, changes and deletes data")
    extra: list[str] = ["--max-examples", str(max_examples)] if max_examples else []
    if stage != "local":
        return _fuzz_deployed_stage(stage, report_dir, max_examples)
    stack = LocalStack(
        state_dir=Path(tempfile.mkdtemp(prefix="fuzz-stack-")),
        database_name=f"fuzz_{uuid.uuid4().hex[:8]}",
        # Its own server: a load run sharing one would see it stopped under its feet when fuzzing ends.
        data_dir=PROJECT_ROOT / ".stack" / "pgdata-fuzz",
        sandbox_env={"SANDBOX_SEED_INVOICES": "100"},
        # Hundreds of requests a minute from one token are the fuzzer's job, not abuse; 429 stays
        # documented and is tested by the service's own rate-limit tests.
        service_env={"RATE_LIMIT": "100000/minute", "WEBHOOK_RATE_LIMIT": "100000/minute"},
    )
    info = stack.start()
    try:
        token = stack.issue_token("schemathesis", "invoke fuzz")
        outcome = run_schemathesis(f"{info.service_url}/openapi.json", token, report_dir, extra)
    finally:
        if stack.service is not None:
            stack.service.stop()
            (report_dir / "integration-service.log").write_bytes(stack.service.log_path.read_bytes())
        stack.stop()
    return outcome


def _fuzz_deployed_stage(stage: Stage, report_dir: Path, max_examples: int | None) -> FuzzOutcome:
    """Staging: the deployed service, bounded, as a user of this run who is removed afterwards with
    everything the fuzzer made."""
    from harness.ops.targets import stage_target
    from harness.stack.tokens import issue_token_on, remove_users

    target = stage_target(stage)
    if not target.service_url:
        raise StageError(f"set SERVICE_URL (the {stage} service's base URL) to fuzz {stage}")
    bounds = ["--rate-limit", STAGING_RATE, "--max-time", str(STAGING_MAX_TIME_S)]
    if target.ca_bundle is not None:  # the stage's private CA (CA_BUNDLE), like every other client of it
        bounds += ["--tls-verify", str(target.ca_bundle)]
    examples = ["--max-examples", str(min(max_examples or STAGING_MAX_EXAMPLES, STAGING_MAX_EXAMPLES))]
    user = f"qa-fuzz-{uuid.uuid4().hex[:8]}"
    token = issue_token_on(target.database_url, stage, user, "invoke fuzz")
    try:
        return run_schemathesis(f"{target.service_url}/openapi.json", token, report_dir, [*bounds, *examples])
    finally:
        remove_users(target.database_url, [user])


def run_fuzz_task(stage: Stage, *, max_examples: int | None = None, reports_dir: Path | None = None) -> FuzzOutcome:
    """`invoke fuzz`: a new `reports/<run-id>/fuzz/` folder and the run."""
    from datetime import UTC, datetime

    from harness.core.paths import REPORTS_DIR
    from harness.core.runs import git_state, new_run_dir

    run_dir = new_run_dir(reports_dir or REPORTS_DIR, datetime.now(UTC), git_state(PROJECT_ROOT)[0])
    return run_fuzz(stage, run_dir / "fuzz", max_examples=max_examples)
