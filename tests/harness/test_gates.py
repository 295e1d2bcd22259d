"""The command gates: exit codes, evidence, and pytest's "no tests collected" counted as a failure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.core.checklist import CHECKLIST_PATH, load_checklist
from harness.core.junit import read_junit
from harness.gates.base import GateContext
from harness.gates.commands import CommandGate, PytestGate
from harness.qa import release_gates


def context(tmp_path: Path, project_root: Path) -> GateContext:
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    return GateContext(stage="local", run_dir=run_dir, project_root=project_root)


def test_command_gate_passes_on_exit_zero_and_keeps_the_output(tmp_path: Path) -> None:
    gate = CommandGate("hello", (sys.executable, "-c", "print('hello from the tool')"))
    result = gate.run(context(tmp_path, tmp_path))
    assert result.status == "passed"
    assert result.evidence == (tmp_path / "run" / "hello.log",)
    assert "hello from the tool" in result.evidence[0].read_text()


def test_command_gate_fails_on_nonzero_exit_with_the_output_tail(tmp_path: Path) -> None:
    gate = CommandGate("lint", (sys.executable, "-c", "import sys; print('E501 too long'); sys.exit(1)"))
    result = gate.run(context(tmp_path, tmp_path))
    assert result.status == "failed"
    assert "exited 1" in result.detail
    assert "E501 too long" in result.detail


def test_command_gate_fails_when_the_tool_hangs(tmp_path: Path) -> None:
    gate = CommandGate("hang", (sys.executable, "-c", "import time; time.sleep(60)"), timeout_s=0.5)
    result = gate.run(context(tmp_path, tmp_path))
    assert result.status == "failed"
    assert "interrupted after" in result.evidence[0].read_text()  # SIGINT ended it: Python stops on it


def write_test_project(root: Path, test_source: str | None) -> None:
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")  # keeps pytest from reading this repository's config
    if test_source is not None:
        (root / "test_sample.py").write_text(test_source)


@pytest.mark.e2e  # runs pytest in a subprocess
def test_pytest_gate_fails_when_no_tests_are_collected(tmp_path: Path) -> None:
    project = tmp_path / "empty"
    write_test_project(project, None)
    result = PytestGate(extra_args=("-p", "no:cacheprovider")).run(context(tmp_path, project))
    assert result.status == "failed"
    assert "collected no tests" in result.detail


@pytest.mark.e2e  # runs pytest in a subprocess
def test_pytest_gate_reports_counts_from_junit(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_test_project(
        project,
        "import pytest\n"
        "def test_ok(): pass\n"
        "def test_also_ok(): pass\n"
        "@pytest.mark.skip(reason='demo')\n"
        "def test_skipped(): pass\n",
    )
    result = PytestGate(extra_args=("-p", "no:cacheprovider")).run(context(tmp_path, project))
    assert result.status == "passed"
    assert result.detail == "3 tests: 2 passed, 0 failed, 0 errors, 1 skipped"
    assert tmp_path / "run" / "junit.xml" in result.evidence


@pytest.mark.e2e  # runs pytest in a subprocess
def test_pytest_gate_fails_when_a_test_fails(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_test_project(project, "def test_ok(): pass\ndef test_broken(): assert 1 == 2\n")
    result = PytestGate(extra_args=("-p", "no:cacheprovider")).run(context(tmp_path, project))
    assert result.status == "failed"
    assert "2 tests: 1 passed, 1 failed" in result.detail


def test_junit_counts_sum_every_suite(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite tests="3" failures="1" errors="0" skipped="1"/>'
        '<testsuite tests="2" failures="0" errors="1" skipped="0"/></testsuites>'
    )
    counts = read_junit(junit)
    assert (counts.tests, counts.failures, counts.errors, counts.skipped) == (5, 1, 1, 1)


def test_release_gates_run_in_order_and_prove_their_items() -> None:
    proved = {gate.name: gate.proves for gate in release_gates()}
    assert proved == {
        "preflight": (),
        "deployed-build": (),  # staging/production: holds every later gate when the stage runs another commit
        "ruff": ("CQ-03",),
        "no-debug-prints": ("CQ-04",),
        "mypy": ("CQ-02",),
        "secrets": ("CQ-06",),
        "dependency-audit": ("MONTH-05",),
        "pytest": ("CQ-01",),
        "load": ("OPS-PERF-TARGETS", "OPS-LOAD", "PERF-06"),
        "fuzz": ("DOC-03",),
        "faults": ("CQ-05", "INT-01", "INT-03", "INT-05", "PAYPAL-05", "PERF-05", "STRIPE-04", "XERO-05"),
        "scenarios": (),  # each scenario carries its own ids
        "fidelity": (),  # the sandbox's answers in the scenarios against the providers' specs
    }
    assert next(iter(proved)) == "preflight"
    known = {item.id for item in load_checklist(CHECKLIST_PATH)}
    assert {item for ids in proved.values() for item in ids} <= known


def test_the_debug_print_gate_catches_a_print(tmp_path: Path) -> None:
    source = tmp_path / "src" / "integration_service"
    source.mkdir(parents=True)
    (tmp_path / "src" / "provider_sandbox").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\n")
    (source / "module.py").write_text("def handler() -> None:\n    print('debugging')\n")
    gate = next(gate for gate in release_gates() if gate.name == "no-debug-prints")
    result = gate.run(context(tmp_path, tmp_path))
    assert result.status == "failed"
    assert "T201" in result.detail


def write_junit(path: Path, tests: int, failures: int = 0, tier: str = "fast") -> Path:
    properties = f'<properties><property name="tier" value="{tier}" /></properties>'
    totals = f'tests="{tests}" failures="{failures}" errors="0" skipped="0"'
    suite = f'<testsuite name="pytest" {totals}>{properties}</testsuite>'
    path.write_text(f"<testsuites>{suite}</testsuites>")
    return path


@pytest.mark.parametrize(("tests", "failures", "status"), [(12, 0, "passed"), (12, 1, "failed"), (0, 0, "failed")])
def test_the_pytest_gate_can_judge_an_earlier_run(tmp_path: Path, tests: int, failures: int, status: str) -> None:
    report = write_junit(tmp_path / "earlier.xml", tests, failures)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = PytestGate(junit_from=(report,)).run(GateContext(stage="local", run_dir=run_dir, project_root=tmp_path))
    assert result.status == status
    assert str(report) in result.detail
    assert (run_dir / "junit.xml").exists()  # the evidence travels with the report


def test_a_missing_earlier_report_fails_the_gate(tmp_path: Path) -> None:
    result = PytestGate(junit_from=(tmp_path / "absent.xml",)).run(
        GateContext(stage="local", run_dir=tmp_path, project_root=tmp_path)
    )
    assert result.status == "failed"


@pytest.mark.parametrize(("e2e_failures", "status"), [(0, "passed"), (1, "failed")])
def test_the_pytest_gate_judges_every_tier_and_names_them(tmp_path: Path, e2e_failures: int, status: str) -> None:
    fast = write_junit(tmp_path / "fast.xml", 800)
    e2e = write_junit(tmp_path / "e2e.xml", 100, failures=e2e_failures, tier="e2e")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = PytestGate(junit_from=(fast, e2e)).run(GateContext(stage="local", run_dir=run_dir, project_root=tmp_path))
    assert result.status == status
    assert "tiers: fast (800 tests), e2e (100 tests)" in result.detail
    assert [path.name for path in result.evidence] == ["junit.xml"]  # one file, both tiers inside
    combined = read_junit(run_dir / "junit.xml")
    assert (combined.tests, combined.failures, combined.tiers) == (900, e2e_failures, ("fast", "e2e"))


def test_one_missing_tier_report_fails_the_gate(tmp_path: Path) -> None:
    fast = write_junit(tmp_path / "fast.xml", 800)
    result = PytestGate(junit_from=(fast, tmp_path / "e2e.xml")).run(
        GateContext(stage="local", run_dir=tmp_path, project_root=tmp_path)
    )
    assert result.status == "failed"
    assert "e2e.xml" in result.detail
