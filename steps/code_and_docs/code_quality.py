"""Steps of the code quality items (CQ-01..CQ-06): the release run's project tests, the type checker and
the linter, debug prints, the error model for bad requests and failing providers, and hard-coded secrets.

The tool checks run the real tools on the checkout being released (`world.target.project_root`); the
error model is provoked over HTTP, a provider's failure through the provider sandbox's fault rules.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from harness.core.junit import JunitCounts, read_junit
from harness.gates.secrets_scan import Finding, scan_files, scan_repository
from steps.common import World, connect_account, describe, error_code
from steps.support.pre_deployment import add_sandbox_fault

TOOL_TIMEOUT_S = 15 * 60
# What must never reach a client: a traceback, or the names of the layers under the API.
INTERNALS = re.compile(r"Traceback|File \"|sqlalchemy|psycopg|Exception\b|\bat 0x[0-9a-f]+", re.IGNORECASE)


@when("the JUnit report of the release run's project tests is read", target_fixture="junit_counts")
def read_project_test_report(world: World) -> JunitCounts:
    report = world.target.run_dir / "junit.xml"
    if not report.exists():
        pytest.skip(f"no {report}: the pytest gate did not run in this release run, so there is no result to read")
    return read_junit(report)


@then("the report lists project tests and none of them failed or errored")
def project_tests_all_passed(junit_counts: JunitCounts) -> None:
    counts = junit_counts
    assert counts.tests > 0, "the JUnit report lists no tests: nothing was proved"
    assert (counts.failures, counts.errors) == (0, 0), f"the project tests did not all pass: {counts.summary()}"


def _run_tool(world: World, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this Python, a fixed tool
        [sys.executable, "-m", *arguments],
        cwd=world.target.project_root,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


_TOOLS = {"mypy": ("mypy",), "ruff": ("ruff", "check", ".")}
_NO_PRINT = ("ruff", "check", "--no-cache", "--select", "T20")


@dataclass(frozen=True)
class ToolRun:
    """A quality tool's run over the checkout or a scratch module."""

    tool: str
    run: subprocess.CompletedProcess[str]


@when(parsers.parse('the quality tool "{tool}" checks the checkout'), target_fixture="tool_run")
def run_quality_tool(world: World, tool: str) -> ToolRun:
    return ToolRun(tool, _run_tool(world, *_TOOLS[tool]))


@then("the quality tool reports no problems")
def quality_tool_is_clean(tool_run: ToolRun) -> None:
    tool, run = tool_run.tool, tool_run.run
    output = (run.stdout + run.stderr).strip()
    assert run.returncode == 0, f"{tool} exited {run.returncode}:\n{output[-3000:]}"


@when("the no-print rule checks a scratch module that calls print()", target_fixture="tool_run")
def no_print_rule_on_scratch(world: World, tmp_path: Path) -> ToolRun:
    scratch = tmp_path / "scratch_module.py"
    scratch.write_text('def handler() -> None:\n    print("debugging")\n')
    return ToolRun("ruff T20", _run_tool(world, *_NO_PRINT, str(scratch)))


@then("the no-print rule reports the print call")
def no_print_rule_found_it(tool_run: ToolRun) -> None:
    run = tool_run.run
    assert run.returncode != 0, f"the no-print rule passed a module that calls print():\n{run.stdout}"
    assert "T201" in run.stdout, f"the no-print rule failed, but not on the print() call:\n{run.stdout}"


@when("the no-print rule checks the service and the provider sandbox", target_fixture="tool_run")
def no_print_rule_on_code(world: World) -> ToolRun:
    run = _run_tool(world, *_NO_PRINT, "src/integration_service", "src/provider_sandbox")
    return ToolRun("ruff T20", run)


@when(parsers.re(r'"(?P<name>[^"]+)" sends (?P<method>[A-Z]+) (?P<path>\S+) with the raw body (?P<body>.+)$'))
def send_raw_body(world: World, name: str, method: str, path: str, body: str) -> None:
    random_id = str(uuid.uuid4())
    path, body = path.replace("{random-id}", random_id), body.replace("{random-id}", random_id)
    content = None if body == "none" else body.encode()
    headers = {} if content is None else {"Content-Type": "application/json"}
    world.response = world.user(name).client.request(method, path, content=content, headers=headers)


@then(parsers.parse("the answer is the service's error model with status {status:d} and no internals"))
def answer_is_error_model(world: World, status: int) -> None:
    response = world.last_response()
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    assert response.headers.get("content-type", "").startswith("application/json"), describe(response)
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"not the error model: {describe(response)}"
    assert error_code(response), f"the error has no code: {describe(response)}"
    assert str(error.get("message") or "").strip(), f"the error has no message: {describe(response)}"
    leaked = INTERNALS.search(response.text)
    assert leaked is None, f"the answer shows internals ({leaked.group(0) if leaked else ''}): {describe(response)}"


@given(parsers.parse('"{name}" has connected a Xero organisation for the error handling check'))
def connect_xero_for_errors(world: World, name: str) -> None:
    user = world.user(name)
    world.integrations["errors"] = connect_account(
        world, user, "xero", integrationName=f"errors-{uuid.uuid4().hex[:6]}"
    )


@given(parsers.parse('the provider sandbox fails every Xero "{path}" call with HTTP {status:d}'))
def xero_path_fails(world: World, request: pytest.FixtureRequest, path: str, status: int) -> None:
    add_sandbox_fault(
        world, request, {"provider": "xero", "kind": "error", "path": path, "status": status, "times": None}
    )


@when(parsers.parse('"{name}" tests the connection of that Xero integration'))
def test_xero_connection(world: World, name: str) -> None:
    integration_id = world.integrations["errors"]["id"]
    world.response = world.user(name).client.post(f"/api/integrations/{integration_id}/test")


@then("the error names the provider's failure")
def error_names_provider_failure(world: World) -> None:
    response = world.last_response()
    message = response.json()["error"]["message"]
    assert "500" in message or "xero" in message.casefold(), f"the error does not say what failed: {message!r}"


@when(
    "the secrets scan searches a scratch repository holding a planted Stripe live key", target_fixture="secret_findings"
)
def scan_planted_secret(tmp_path: Path) -> list[Finding]:
    planted = "sk_" + "live_" + "51Mz8XyQabcDEFghiJKLmnoPQRstuVw"  # built here, so no file holds it
    (tmp_path / "config.py").write_text(f'STRIPE_KEY = "{planted}"\n')
    return scan_files(tmp_path, ["config.py"])


@then("the secrets scan reports the planted key")
def planted_secret_reported(secret_findings: list[Finding]) -> None:
    found = [str(finding) for finding in secret_findings]
    assert found == ["config.py:1: stripe-live-key"], f"the scan missed a planted Stripe live key: {found}"


@when("the secrets scan searches every file git tracks in the checkout", target_fixture="secret_findings")
def scan_checkout(world: World) -> list[Finding]:
    return scan_repository(world.target.project_root)


@then("the secrets scan reports nothing")
def no_secrets_found(secret_findings: list[Finding]) -> None:
    found = [str(finding) for finding in secret_findings]
    assert not found, "hard-coded secrets (remove them, or allow a deliberate fixture): " + "; ".join(found)
