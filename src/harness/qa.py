"""`invoke qa`: run the stage's gates, write the release report, decide the verdict."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from harness.core.checklist import CHECKLIST_PATH, ChecklistItem, load_checklist
from harness.core.features import ids_of_section
from harness.core.paths import PROJECT_ROOT, REPORTS_DIR
from harness.core.proofs import EarlierRun, StoreLookup, carried_proofs, find_earlier_run
from harness.core.runs import git_state, new_run_dir
from harness.core.settings import stage_settings
from harness.core.stages import Stage
from harness.gates.base import Gate, GateContext, GateRun, run_gates
from harness.gates.bench import BenchConfig
from harness.gates.commands import CommandGate, PytestGate
from harness.gates.deployed_build import DeployedBuildGate, read_deployed_sha
from harness.gates.faults.gate import FaultGate, collect_faults
from harness.gates.fidelity import FidelityGate, read_fidelity
from harness.gates.load import DEFAULT_THRESHOLDS, collect_benchmarks
from harness.gates.perf import FuzzGate, LoadGate
from harness.gates.preflight import PreflightGate
from harness.gates.scenarios import ScenarioGate
from harness.gates.static import DependencyAuditGate, SecretsGate
from harness.ops import gate_store
from harness.ops.common import OpsError, Target
from harness.ops.gate_store import gate_store_url
from harness.ops.signoff import recorded_attestations
from harness.report.release import (
    ReleaseReport,
    Waiver,
    build_report,
    collect_bare_stack,
    collect_resources,
    write_report,
)
from harness.stack.provider_settings import external_providers_note, user_environment

_STATUS_STYLES = {"passed": "green", "failed": "bold red", "error": "bold red", "skipped": "yellow"}


@dataclass(frozen=True)
class QaOutcome:
    report: ReleaseReport
    run_dir: Path
    json_path: Path
    html_path: Path


class QaOptionError(ValueError):
    """`--only` or `--skip` names something that does not exist; the message lists what does."""


# Over 60 lines: the gate run in its order (gates, sign-offs, report, store); its callbacks close over its options.
def run_qa(
    stage: Stage,
    *,
    gates: Sequence[Gate] | None = None,
    reports_dir: Path = REPORTS_DIR,
    checklist_path: Path = CHECKLIST_PATH,
    project_root: Path = PROJECT_ROOT,
    console: Console | None = None,
    pytest_junit: Sequence[Path] = (),
    only_section: str | None = None,
    skip: Sequence[str] = (),
    attestations: dict[str, str] | None = None,
    carry_from: Sequence[Path] = (),
    waivers: Sequence[Waiver] = (),
    store: StoreLookup | None = None,
) -> QaOutcome:
    """`only_section`: run the scenarios of one checklist section and the gates that prove its items;
    `skip`: gates not to run. Either makes the run partial, and the report says so.
    `attestations`: checklist id → who attested (default: the sign-offs recorded for this commit).
    `carry_from`: release reports (files or run folders, e.g. CI artefacts) of earlier gates of this commit;
    with the reports folder and the gate `store`, where staging and production find what they carry.
    `waivers`: items nothing could prove in this run that may not block it (named, with a reason)."""
    console = console or Console(stderr=True)
    items = load_checklist(checklist_path)  # read first: a broken catalogue should stop us before the gates
    _check_waivers(items, waivers)
    only_ids = _section_ids(items, only_section)
    chosen = release_gates(pytest_junit, only_ids, stage) if gates is None else list(gates)
    _check_skips(chosen, skip)
    started = datetime.now(UTC)
    git_sha, git_dirty = git_state(project_root)
    run_dir = new_run_dir(reports_dir, started, git_sha)
    console.print(f"[bold]QA[/] stage [bold]{stage}[/], commit {git_sha[:12]}, report in {run_dir}")

    def announce(gate: Gate) -> None:
        console.print(f"  running [bold]{gate.name}[/] …")

    def show(run: GateRun) -> None:
        style = _STATUS_STYLES.get(run.status, "")
        console.print(f"  [{style}]{run.status:>7}[/] {run.name} ({run.duration_s:.1f} s)")

    def hold(gate: Gate, earlier: list[GateRun]) -> str | None:
        for first in (PreflightGate.name, DeployedBuildGate.name):
            if any(run.name == first and run.status not in ("passed", "skipped") for run in earlier):
                return f"not run: {first} failed (see the {first} gate)"
        if gate.name in skip:
            return "skipped on request (--skip)"
        if only_ids is not None and gate.proves and not only_ids & set(gate.proves):
            return f"outside this partial run (--only {only_section})"
        return None

    context = GateContext(stage=stage, run_dir=run_dir, project_root=project_root)
    gate_runs = run_gates(chosen, context, announce, show, hold)
    store_url = gate_store_url(stage, project_root)  # sign-offs and gate results every runner shares
    if store is None and store_url is not None:
        store = gate_store.store_lookup(store_url)
    if attestations is None:
        records = Target(
            stage=stage, database_url="", state_dir=project_root / ".stack" / "ops", gate_store_url=store_url
        )
        try:
            attestations = recorded_attestations(records, git_sha)
        except OpsError as exc:  # the preflight gate says so too; the report must still be written
            console.print(f"[bold red]Sign-offs unreadable[/]: {exc}")
            attestations = {}
    report = build_report(
        run_id=run_dir.name,
        stage=stage,
        git_sha=git_sha,
        git_dirty=git_dirty,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        items=items,
        gate_runs=gate_runs,
        benchmarks=collect_benchmarks(run_dir),  # left by the load gate, if it ran
        resources=collect_resources(run_dir),
        faults=collect_faults(run_dir),  # left by the fault matrix gate, if it ran
        bare_stack=collect_bare_stack(run_dir),  # left by the load gate's bench (LOAD_BENCH=1)
        fidelity=read_fidelity(run_dir),
        attestations=attestations,
        partial=_partial(only_section, skip),
        carried=_carried(stage, items, git_sha, reports_dir, carry_from, store),
        waivers=list(waivers),
        deployed_sha=read_deployed_sha(run_dir),
    )
    if stage == "local":  # its stacks reached the providers the environment points away from the sandbox
        report.notes.extend(external_providers_note(user_environment(project_root)))
    json_path, html_path = write_report(report, run_dir)
    if store_url is not None:
        _store_result(store_url, report, console)
    return QaOutcome(report=report, run_dir=run_dir, json_path=json_path, html_path=html_path)


def _carried(
    stage: Stage,
    items: list[ChecklistItem],
    git_sha: str,
    reports_dir: Path,
    carry_from: Sequence[Path],
    store: StoreLookup | None,
) -> dict[str, str]:
    """What earlier gates of this commit proved that counts here (`harness.core.proofs`)."""
    if stage == "local":
        return {}

    def earlier(of: Stage) -> EarlierRun | None:
        return find_earlier_run(git_sha, of, reports_dir=reports_dir, carry_from=carry_from, store=store)

    return carried_proofs(stage, items, earlier("local"), earlier("staging") if stage == "production" else None)


def _store_result(url: str, report: ReleaseReport, console: Console) -> None:
    """The result where the next stage's runner finds it (production looks for staging's pass)."""
    try:
        gate_store.record_gate_result(
            url,
            commit=report.git_sha,
            stage=report.stage,
            run_id=report.run_id,
            verdict=report.verdict,
            partial=report.partial is not None,
            recorded_by=runner_identity(),
            report=report.to_json(),
        )
    except OpsError as exc:
        console.print(f"[bold red]The gate store did not take this result[/] (a later stage will not find it): {exc}")


def parse_waivers(values: Sequence[str], by: str | None = None) -> list[Waiver]:
    """`ID=REASON` options, attributed to whoever runs the gate (the CI identity when there is one)."""
    waivers = []
    for value in values:
        item_id, separator, reason = value.partition("=")
        if not separator or not item_id.strip() or not reason.strip():
            raise QaOptionError(f"--waive {value!r}: expected ID=REASON, e.g. --waive MONTH-05='offline runner'")
        waivers.append(Waiver(id=item_id.strip(), reason=reason.strip(), by=by or runner_identity()))
    return waivers


def runner_identity() -> str:
    """Who runs this: the CI's user when a CI runs it, else the login name."""
    for variable in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "USER"):
        if os.environ.get(variable):
            prefix = "" if variable == "USER" else "ci:"
            return f"{prefix}{os.environ[variable]}"
    return "unknown"


def load_thresholds(stage: Stage) -> Path:
    """The stage's LOAD_THRESHOLDS (a path, relative to the project), else the checklist's own targets."""
    configured = stage_settings(stage).load_thresholds
    return PROJECT_ROOT / configured if configured else DEFAULT_THRESHOLDS


def _check_waivers(items: list[ChecklistItem], waivers: Sequence[Waiver]) -> None:
    known = {item.id for item in items}
    unknown = [waiver.id for waiver in waivers if waiver.id not in known]
    if unknown:
        raise QaOptionError(f"--waive names no checklist item: {', '.join(unknown)}")
    if any(not waiver.reason.strip() for waiver in waivers):
        raise QaOptionError("--waive needs a reason: --waive ID=REASON")


def _section_ids(items: list[ChecklistItem], only_section: str | None) -> frozenset[str] | None:
    if only_section is None:
        return None
    ids = ids_of_section(items, only_section)
    if not ids:
        sections = ", ".join(dict.fromkeys(item.section for item in items))
        raise QaOptionError(f"no checklist section matches {only_section!r}; the sections are: {sections}")
    return ids


def _check_skips(gates: Sequence[Gate], skip: Sequence[str]) -> None:
    names = [gate.name for gate in gates]
    unknown = [name for name in skip if name not in names]
    if unknown:
        raise QaOptionError(f"--skip names no gate: {', '.join(unknown)}; the gates are: {', '.join(names)}")


def _partial(only_section: str | None, skip: Sequence[str]) -> str | None:
    parts = ([f"only section {only_section!r}"] if only_section else []) + (
        [f"gates skipped: {', '.join(skip)}"] if skip else []
    )
    return "; ".join(parts) or None


def release_gates(
    pytest_junit: Sequence[Path] = (), only_ids: frozenset[str] | None = None, stage: Stage = "local"
) -> list[Gate]:
    """The gates of `invoke qa`, in the order they run: static checks first (fast feedback), then load
    (whose measurements the scenarios about benchmarks read), fuzzing, the fault matrix, and the checklist
    scenarios.

    `pytest_junit`: the JUnit reports of pytest runs made just before on this checkout (CI; one per tier), judged
    instead of running the suite again. `only_ids`: run only the scenarios carrying these ids.
    """
    python = sys.executable
    return [
        PreflightGate(),
        DeployedBuildGate(),  # staging/production: the stage runs the commit under test, or nothing runs
        CommandGate("ruff", (python, "-m", "ruff", "check", "."), proves=("CQ-03",)),
        # Production code must not print (it logs through structlog); ruff's T20 rules find print()
        # and pprint() calls, selected explicitly here so that the proof does not depend on config.
        CommandGate(
            "no-debug-prints",
            (
                python,
                "-m",
                "ruff",
                "check",
                "--select",
                "T20",
                "src/integration_service",
                "src/provider_sandbox",
            ),
            proves=("CQ-04",),
        ),
        # mypy, the secrets scan and the dependency audit read the checkout and start no stack: they run
        # at the same time (the audit mostly waits on the network), before anything is measured.
        CommandGate("mypy", (python, "-m", "mypy"), proves=("CQ-02",), alongside=True),
        SecretsGate(),
        DependencyAuditGate(),
        PytestGate(junit_from=tuple(pytest_junit)),
        # Locust: profile `gate` (~2 minutes) on a local stack of its own; a bounded profile on staging.
        LoadGate.for_staging(load_thresholds(stage), stage_settings(stage).load_profile)
        if stage == "staging"
        else LoadGate(bench=BenchConfig() if stage_settings(stage).load_bench else None),
        FuzzGate(),  # Schemathesis on every operation
        FaultGate(),  # the fault matrix (~1.5 minutes): fills the report's "Faults survived" table
        ScenarioGate(only_ids=only_ids),  # the checklist, scenario by scenario
        FidelityGate(),  # the sandbox's answers in those scenarios against the providers' specs
    ]
