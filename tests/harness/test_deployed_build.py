"""The staging/production gate tests the build it reports on: a stage running another commit fails the
deployed-build gate and holds every later gate; the commit under test passes it."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from harness.core.paths import PROJECT_ROOT
from harness.core.runs import git_state
from harness.gates.deployed_build import DeployedBuildGate
from harness.qa import run_qa
from tests.harness.test_qa import StaticGate

OTHER_SHA = "0" * 40


def version_server(sha: str) -> Iterator[str]:
    class Version(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/api/version"
            body = json.dumps({"version": "1", "gitSha": sha, "stage": "staging"} if found else {}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stage_running(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    sha = git_state(PROJECT_ROOT)[0] if request.param == "this commit" else OTHER_SHA
    for url in version_server(sha):
        monkeypatch.setenv("SERVICE_URL", url)
        monkeypatch.setenv("GATE_STORE_URL", "")  # no store: this test is about the build, not the results
        monkeypatch.setenv("DATABASE_URL", "")
        yield sha


def gate_run(tmp_path: Path) -> dict[str, str]:
    later = StaticGate("scenarios", "passed", ("CQ-01",))
    outcome = run_qa(
        "staging",
        gates=[DeployedBuildGate(), later],
        reports_dir=tmp_path,
        console=Console(file=io.StringIO()),
        attestations={},
    )
    return {gate.name: f"{gate.status}: {gate.detail}" for gate in outcome.report.gates} | {
        "deployed_sha": str(outcome.report.deployed_sha)
    }


@pytest.mark.parametrize("stage_running", ["another commit"], indirect=True)
def test_a_stage_running_another_commit_fails_and_holds_the_rest(stage_running: str, tmp_path: Path) -> None:
    gates = gate_run(tmp_path)
    assert gates["deployed-build"].startswith("failed: staging runs 000000000000"), gates
    assert gates["scenarios"].startswith("skipped: not run: deployed-build failed"), gates
    assert gates["deployed_sha"] == OTHER_SHA


@pytest.mark.parametrize("stage_running", ["this commit"], indirect=True)
def test_the_commit_under_test_passes_and_the_report_names_it(stage_running: str, tmp_path: Path) -> None:
    gates = gate_run(tmp_path)
    assert gates["deployed-build"].startswith("passed"), gates
    assert gates["scenarios"].startswith("passed"), gates
    assert gates["deployed_sha"] == stage_running
