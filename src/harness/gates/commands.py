"""The gates the QA job runs today: the project's tests, the linter, the type checker.

Each tool runs as a subprocess of this Python (so the gate checks what `uv run` installed), with its
output kept in the run folder as evidence. Later gates (scenarios, load, fuzz) plug in beside these.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from harness.core.junit import combine_junit, judged_tiers, read_junit
from harness.core.processes import log_tail, run_logged
from harness.core.stages import ALL_STAGES, Stage
from harness.gates.base import GateContext, GateResult

# Generous: a hung tool must not hang CI forever, but a slow shared machine must not fail the gate.
COMMAND_TIMEOUT_S = 20 * 60
PYTEST_NO_TESTS_COLLECTED = 5


@dataclass(frozen=True)
class CommandGate:
    """Passes when the command exits 0; its output goes to `<run>/<name>.log`."""

    name: str
    command: tuple[str, ...]
    proves: tuple[str, ...] = ()
    stages: frozenset[Stage] = ALL_STAGES
    timeout_s: float = COMMAND_TIMEOUT_S
    alongside: bool = False  # may run at the same time as neighbouring gates that may (`run_gates`)

    def run(self, context: GateContext) -> GateResult:
        log_path = context.run_dir / f"{self.name}.log"
        exit_code = run_logged(self.command, log_path, cwd=context.project_root, timeout_s=self.timeout_s)
        shown = " ".join(self.command[2:] if self.command[0] == sys.executable else self.command)
        if exit_code == 0:
            return GateResult("passed", f"`{shown}` exited 0", (log_path,))
        return GateResult("failed", f"`{shown}` exited {exit_code}:\n{log_tail(log_path)}", (log_path,))


@dataclass(frozen=True)
class PytestGate:
    """The project's tests, with a JUnit XML file as evidence. No tests collected is a failure."""

    name: str = "pytest"
    proves: tuple[str, ...] = ("CQ-01",)
    # The tests check the commit, not a stage, and create databases of their own: on staging and
    # production CQ-01 is carried from the commit's local gate, never run against a stage's server.
    stages: frozenset[Stage] = frozenset({"local"})
    extra_args: tuple[str, ...] = ()
    timeout_s: float = COMMAND_TIMEOUT_S
    # CI runs the suite itself just before the gate, on the same checkout (one run per tier): the gate
    # then judges those runs' JUnit reports instead of running the whole suite again.
    junit_from: tuple[Path, ...] = ()

    def run(self, context: GateContext) -> GateResult:
        if self.junit_from:
            return self._judge_earlier_runs(context, self.junit_from)
        junit_path = context.run_dir / "junit.xml"
        log_path = context.run_dir / f"{self.name}.log"
        # Without -m, pyproject's addopts select the fast tier; CI's reports (junit_from) cover the e2e tier too.
        command = (sys.executable, "-m", "pytest", f"--junitxml={junit_path}", *self.extra_args)
        exit_code = run_logged(command, log_path, cwd=context.project_root, timeout_s=self.timeout_s)
        evidence = tuple(path for path in (junit_path, log_path) if path.exists())
        counts = read_junit(junit_path) if junit_path.exists() else None
        summary = "no JUnit report was written" if counts is None else counts.summary()
        if counts is not None and counts.tiers:
            summary += f"; {judged_tiers([(junit_path, counts)])}"
        if exit_code == PYTEST_NO_TESTS_COLLECTED or (counts is not None and counts.tests == 0):
            return GateResult("failed", f"pytest collected no tests ({summary}): nothing was proved", evidence)
        if exit_code != 0:
            return GateResult("failed", f"pytest exited {exit_code}: {summary}\n{log_tail(log_path)}", evidence)
        return GateResult("passed", summary, evidence)

    def _judge_earlier_runs(self, context: GateContext, sources: tuple[Path, ...]) -> GateResult:
        missing = [str(source) for source in sources if not source.exists()]
        if missing:
            return GateResult(
                "failed", f"no JUnit report at {', '.join(missing)}: run pytest with --junitxml first", ()
            )
        # One junit.xml in the run (what the CQ-01 scenario and the report's evidence read), every tier inside.
        combined = context.run_dir / "junit.xml"
        combine_junit(list(sources), combined)
        copies = (combined,)
        counts = [(source, read_junit(source)) for source in sources]
        origin = f"(judged from {', '.join(map(str, sources))}: the pytest runs made just before this gate)"
        detail = "; ".join(f"{path.name}: {c.summary()}" for path, c in counts) + f"; {judged_tiers(counts)} {origin}"
        if any(c.tests == 0 for _, c in counts):
            return GateResult("failed", f"a pytest run collected no tests: nothing was proved. {detail}", copies)
        if any(c.failures or c.errors for _, c in counts):
            return GateResult("failed", detail, copies)
        return GateResult("passed", detail, copies)
