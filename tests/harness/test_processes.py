"""Server processes: ready when they answer, a clear error with the log when they do not."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from harness.core.processes import ServerProcess, ServerStartError, free_port, run_logged


def test_a_server_that_dies_at_start_raises_with_its_log_tail(tmp_path: Path) -> None:
    server = ServerProcess(
        name="doomed",
        command=[sys.executable, "-c", "import sys; print('cannot bind: address in use'); sys.exit(3)"],
        port=free_port(),
        log_path=tmp_path / "doomed.log",
    )
    with pytest.raises(ServerStartError) as raised:
        server.start(timeout_s=30)
    message = str(raised.value)
    assert "doomed exited with code 3" in message
    assert "cannot bind: address in use" in message
    server.stop()


def test_a_server_that_never_answers_is_stopped_and_reported(tmp_path: Path) -> None:
    server = ServerProcess(
        name="silent",
        command=[sys.executable, "-c", "import time; print('thinking', flush=True); time.sleep(120)"],
        port=free_port(),
        log_path=tmp_path / "silent.log",
    )
    with pytest.raises(ServerStartError, match=r"silent was not ready .* after 1s[\s\S]*thinking"):
        server.start(timeout_s=1)
    assert server.process is not None
    assert server.process.poll() is not None  # not left running


def test_a_real_server_is_ready_then_stopped(tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "http.server",
        str(port),
        "--bind",
        "127.0.0.1",
        "--directory",
        str(tmp_path),
    ]
    with ServerProcess(name="files", command=command, port=port, log_path=tmp_path / "files.log") as server:
        assert httpx.get(server.url + "/", timeout=5).status_code == 200
    assert server.process is not None
    assert server.process.poll() is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


# A command that cleans up on Ctrl-C, as pytest tears its fixtures (and the services they started) down.
# Its handler is set explicitly: a test run started as a shell's background job inherits SIGINT ignored,
# and Python then leaves it ignored in every child.
CLEANS_UP = """
import pathlib, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    time.sleep(60)
except KeyboardInterrupt:
    pathlib.Path(sys.argv[1]).write_text("stopped its services")
    sys.exit(2)
"""
IGNORES_CTRL_C = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"


def test_a_command_out_of_time_is_interrupted_so_that_it_can_clean_up(tmp_path: Path) -> None:
    cleaned = tmp_path / "cleaned"
    log = tmp_path / "run.log"
    # 5 s: the bound within which the child has started and is waiting (not a measure of anything)
    code = run_logged([sys.executable, "-c", CLEANS_UP, str(cleaned)], log, tmp_path, timeout_s=5.0, name="gate")
    assert code == -1
    assert cleaned.read_text() == "stopped its services"
    assert "[harness] gate interrupted after 5s" in log.read_text()


def test_a_command_that_ignores_the_interrupt_is_killed_after_the_grace(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    code = run_logged([sys.executable, "-c", IGNORES_CTRL_C], log, tmp_path, timeout_s=1.0, interrupt_grace_s=0.5)
    assert code == -1
    assert "[harness] killed after 1s" in log.read_text()
