"""The gates the QA job runs today: the project's tests, the linter, the type checker.

Each tool runs as a subprocess of this Python (so the gate checks what `uv run` installed), with its
output kept in the run folder as evidence. Later gates (scenarios, load, fuzz) plug in beside these.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.core.junit import read_junit
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
    # CI runs the suite itself just before the gate, on the same checkout: the gate then judges that
    # run's JUnit report instead of running the whole suite a second time.
    junit_from: Path | None = None

    def run(self, context: GateContext) -> GateResult:
        if self.junit_from is not None:
            return self._judge_earlier_run(context, self.junit_from)
        junit_path = context.run_dir / "junit.xml"
        log_path = context.run_dir / f"{self.name}.log"
        command = (sys.executable, "-m", "pytest", f"--junitxml={junit_path}", *self.extra_args)
        exit_code = run_logged(command, log_path, cwd=context.project_root, timeout_s=self.timeout_s)
        evidence = tuple(path for path in (junit_path, log_path) if path.exists())
        counts = read_junit(junit_path) if junit_path.exists() else None
        summary = "no JUnit report was written" if counts is None else counts.summary()
        if exit_code == PYTEST_NO_TESTS_COLLECTED or (counts is not None and counts.tests == 0):
            return GateResult("failed", f"pytest collected no tests ({summary}): nothing was proved", evidence)
        if exit_code != 0:
            return GateResult("failed", f"pytest exited {exit_code}: {summary}\n{log_tail(log_path)}", evidence)
        return GateResult("passed", summary, evidence)

    def _judge_earlier_run(self, context: GateContext, source: Path) -> GateResult:
        if not source.exists():
            return GateResult("failed", f"no JUnit report at {source}: run pytest with --junitxml first", ())
        copy = context.run_dir / "junit.xml"
        shutil.copyfile(source, copy)
        counts = read_junit(copy)
        origin = f"(judged from {source}, the pytest run made just before this gate)"
        if counts.tests == 0:
            return GateResult("failed", f"pytest collected no tests {origin}: nothing was proved", (copy,))
        if counts.failures or counts.errors:
            return GateResult("failed", f"{counts.summary()} {origin}", (copy,))
        return GateResult("passed", f"{counts.summary()} {origin}", (copy,))
