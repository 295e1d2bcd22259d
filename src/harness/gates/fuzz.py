"""`invoke fuzz`: Schemathesis (v4) against the running service's OpenAPI schema, authenticated.

Configuration is `contract/schemathesis.toml`; this module starts what the stage needs, issues a
token, and runs the `schemathesis` CLI as a subprocess with JUnit and VCR (replayable) reports in the
run's folder. Locally, an integration of each provider and the provider-side objects its operations act
on are made first (harness.stack.fuzz_fixtures) and their ids pinned in the run's copy of the config, so
the fuzzer gets past 404; the cassette then says, per operation, how many cases reached its logic
(harness.gates.fuzz_reach; the gate fails below contract/fuzz_reach.toml's share).
Local: a stack of its own. Staging: the deployed service, bounded in requests (a rate limit times a
time budget, few examples). Production: refused, fuzzing writes data.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.core.junit import read_junit
from harness.core.paths import PROJECT_ROOT
from harness.core.processes import run_logged
from harness.core.stages import Stage, StageError
from harness.gates.fuzz_reach import ReachTable, write_reach
from harness.stack.fuzz_fixtures import FuzzFixtures, create_fuzz_fixtures
from harness.stack.local import LocalStack

CONFIG_FILE = PROJECT_ROOT / "contract" / "schemathesis.toml"
# Where the run's Stripe webhook signing secret travels to contract/fuzz_hooks.py.
STRIPE_SECRET_ENV = "FUZZ_STRIPE_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
# Where the run's pinned body identifiers travel to contract/fuzz_hooks.py (FuzzFixtures.body_identifiers).
BODY_IDENTIFIERS_ENV = "FUZZ_BODY_IDENTIFIERS"
# Set ("1") when each generated DELETE of an integration is to delete one made for it (contract/fuzz_hooks.py):
# runs that judge reach, on the local stack's own database.
FRESH_DELETES_ENV = "FUZZ_FRESH_DELETES"
# Staging is a shared, deployed system: at most STAGING_RATE x STAGING_MAX_TIME_S requests. The run's token
# has a limit of its own, raised over the stage's RATE_LIMIT (FUZZ_TOKEN_RATE_LIMIT, default 1200/minute), so
# that the run fuzzes the API rather than the limiter, whatever the stage's default.
STAGING_RATE = "300/m"
STAGING_MAX_TIME_S = 90
STAGING_MAX_EXAMPLES = 3
# What a run leaves in its folder for the report: failures, the replayable cassette, the log, the reach table.
FUZZ_EVIDENCE = ("junit.xml", "reach.txt", "reach.json", "cassette.yaml", "schemathesis.log")


@dataclass(frozen=True)
class FuzzOutcome:
    exit_code: int
    report_dir: Path
    tests: int
    failures: int
    errors: int
    # Per operation, the share of cases that got past the refusals (None: no cassette or schema to read).
    reach: ReachTable | None = None
    # False on a bounded staging run: a few cases per operation cannot measure a share; reported only.
    reach_judged: bool = True

    @property
    def passed(self) -> bool:
        clean = self.exit_code == 0 and self.failures == 0 and self.errors == 0
        if not self.reach_judged:
            return clean
        return clean and self.reach is not None and not self.reach.below()

    def summary(self) -> str:
        text = (
            f"schemathesis exited {self.exit_code}: {self.tests} operations/scenarios tested, "
            f"{self.failures} failed, {self.errors} errors (junit.xml, cassette.yaml in {self.report_dir})"
        )
        if not self.reach_judged:
            table = self.reach.as_text() if self.reach is not None else "unknown (no cassette or schema to read)"
            return f"{text}\n  reach per operation (reported, not judged: a bounded run's few cases):\n{table}"
        if self.reach is None:
            return text + "\n  reach: unknown (no cassette or schema to read), which fails the gate"
        below = self.reach.below()
        verdict = f"{len(below)} below {self.reach.min_share:.0%}" + (
            ": " + ", ".join(op.operation for op in below) if below else ""
        )
        return f"{text}\n  reach per operation ({verdict}; reach.txt):\n{self.reach.as_text()}"


def schemathesis_command(
    schema_url: str, report_dir: Path, extra_args: Sequence[str] = (), config_file: Path = CONFIG_FILE
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
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
    schema_url: str,
    token: str,
    report_dir: Path,
    extra_args: Sequence[str] = (),
    timeout_s: float = 15 * 60,
    *,
    verify: str | bool = True,
    fixtures: FuzzFixtures | None = None,
    judge_reach: bool = True,
    stripe_webhook_secret: str | None = None,
) -> FuzzOutcome:
    """Run the CLI; the token travels in the environment (the config reads ${FUZZ_API_TOKEN}), and so does
    the stage's Stripe webhook signing secret, with which contract/fuzz_hooks.py signs the generated webhook
    bodies (None: they go unsigned). With `fixtures`, the run's configuration (in the report folder) pins the
    identifiers they made."""
    report_dir.mkdir(parents=True, exist_ok=True)
    _save_schema(schema_url, report_dir / "openapi.json", verify)
    config_file = CONFIG_FILE
    if fixtures is not None:
        config_file = report_dir / "schemathesis.toml"
        config_file.write_text(CONFIG_FILE.read_text(encoding="utf-8") + "\n" + fixtures.as_toml(), encoding="utf-8")
    exit_code = run_logged(
        schemathesis_command(schema_url, report_dir, extra_args, config_file),
        report_dir / "schemathesis.log",
        cwd=PROJECT_ROOT,
        timeout_s=timeout_s,
        env={
            **os.environ,
            "FUZZ_API_TOKEN": token,
            **_signing_env(stripe_webhook_secret),
            BODY_IDENTIFIERS_ENV: json.dumps(fixtures.body_identifiers() if fixtures else {}),
            FRESH_DELETES_ENV: "1" if judge_reach else "",
        },
        name="schemathesis",
    )
    counts = read_junit(report_dir / "junit.xml")
    filtered = any(arg.startswith("--include") for arg in extra_args)
    reach = write_reach(report_dir, partial=filtered)
    return FuzzOutcome(exit_code, report_dir, counts.tests, counts.failures, counts.errors, reach, judge_reach)


def _signing_env(stripe_webhook_secret: str | None) -> dict[str, str]:
    return {STRIPE_SECRET_ENV: stripe_webhook_secret} if stripe_webhook_secret else {}


def _save_schema(schema_url: str, path: Path, verify: str | bool) -> None:
    """The schema the run fuzzed, kept beside the cassette: the reach table maps URLs to its operations."""
    import contextlib

    # Unreachable: Schemathesis reports that itself, and the reach table then reads "unknown".
    with contextlib.suppress(httpx.HTTPError):
        path.write_bytes(httpx.get(schema_url, timeout=30, verify=verify).raise_for_status().content)


def _make_fixtures(service_url: str, token: str, sandbox_url: str, verify: str | bool = True) -> FuzzFixtures:
    """What the operations act on, made as the fuzzing user (its token), so that its requests may use it."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service_url, headers=headers, timeout=60, verify=verify) as api:
        return create_fuzz_fixtures(api, sandbox_url, verify)


def run_fuzz(
    stage: Stage, report_dir: Path, *, max_examples: int | None = None, seed: int | None = None
) -> FuzzOutcome:
    """`seed`: another than the configuration's fixed one, to explore (an independent run)."""
    if stage == "production":
        raise StageError("invoke fuzz refuses production: fuzzing creates, changes and deletes data")
    extra: list[str] = ["--max-examples", str(max_examples)] if max_examples else []
    extra += ["--seed", str(seed)] if seed is not None else []
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
        fixtures = _make_fixtures(info.service_url, token, info.sandbox_url)
        outcome = run_schemathesis(
            f"{info.service_url}/openapi.json",
            token,
            report_dir,
            extra,
            fixtures=fixtures,
            stripe_webhook_secret=stack.webhook_settings.get("STRIPE_WEBHOOK_SECRETS"),
        )
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
    from harness.stack.tokens import remove_users

    target = stage_target(stage)
    if not target.service_url:
        raise StageError(f"set SERVICE_URL (the {stage} service's base URL) to fuzz {stage}")
    bounds = ["--rate-limit", STAGING_RATE, "--max-time", str(STAGING_MAX_TIME_S)]
    verify: str | bool = True
    if target.ca_bundle is not None:  # the stage's private CA (CA_BUNDLE), like every other client of it
        verify = str(target.ca_bundle)
        bounds += ["--tls-verify", verify]
    examples = ["--max-examples", str(min(max_examples or STAGING_MAX_EXAMPLES, STAGING_MAX_EXAMPLES))]
    user, token = issue_fuzz_token(target.database_url, stage)
    try:
        # The stage's provider sandbox (SANDBOX_URL), if it has one, holds the objects the operations need.
        fixtures = _make_fixtures(target.service_url, token, target.sandbox_url, verify) if target.sandbox_url else None
        return run_schemathesis(
            f"{target.service_url}/openapi.json",
            token,
            report_dir,
            [*bounds, *examples],
            verify=verify,
            fixtures=fixtures,
            judge_reach=False,  # STAGING_MAX_EXAMPLES cases an operation, cut at STAGING_MAX_TIME_S: no share
            stripe_webhook_secret=target.stripe_webhook_secret,
        )
    finally:
        remove_users(target.database_url, [user])  # its token revoked first, then the user and all it made


def issue_fuzz_token(database_url: str, stage: Stage) -> tuple[str, str]:
    """A new user of this run and its token, whose own rate limit is the stage's FUZZ_TOKEN_RATE_LIMIT."""
    from harness.core.settings import stage_settings
    from harness.stack.tokens import issue_token_on

    user = f"qa-fuzz-{uuid.uuid4().hex[:8]}"
    limit = stage_settings(stage).fuzz_token_rate_limit
    return user, issue_token_on(database_url, stage, user, "invoke fuzz", rate_limit=limit)


def run_fuzz_task(
    stage: Stage, *, max_examples: int | None = None, seed: int | None = None, reports_dir: Path | None = None
) -> FuzzOutcome:
    """`invoke fuzz`: a new `reports/<run-id>/fuzz/` folder and the run."""
    from datetime import UTC, datetime

    from harness.core.paths import REPORTS_DIR
    from harness.core.runs import git_state, new_run_dir

    run_dir = new_run_dir(reports_dir or REPORTS_DIR, datetime.now(UTC), git_state(PROJECT_ROOT)[0])
    return run_fuzz(stage, run_dir / "fuzz", max_examples=max_examples, seed=seed)
