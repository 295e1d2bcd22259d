"""`invoke up` underneath: the stack in the foreground, stopped cleanly by Ctrl-C or by its own death."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from harness.core.database import drop_database
from harness.stack.dev import PortInUseError, ensure_port_free, printable_url, run_in_foreground
from harness.stack.local import LocalStack

# e2e: starts whole local stacks of its own (the `e2e` tier: `uv run pytest -m e2e`).
pytestmark = pytest.mark.e2e


def test_a_taken_port_is_refused_before_anything_starts() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} .* pass --port"):
            ensure_port_free(port)


def test_printed_database_urls_hide_the_password() -> None:
    shown = printable_url("postgresql://app:s3cret-pass@db.example:5432/integrations")
    assert "s3cret-pass" not in shown
    assert shown == "postgresql://app:***@db.example:5432/integrations"


@pytest.fixture
def stack(database_server_url: str, tmp_path: Path) -> Iterator[LocalStack]:
    name = f"test_up_{uuid.uuid4().hex[:10]}"
    yield LocalStack(state_dir=tmp_path, database_name=name, external_database_url=database_server_url)
    drop_database(database_server_url, name)


def when_up(stack: LocalStack, action: Callable[[], None]) -> threading.Thread:
    """Run `action` once the service answers (from another thread, as a user at the terminal would)."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if stack.info is not None:
                action()
                return
            time.sleep(0.1)

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


@pytest.mark.db
def test_ctrl_c_stops_the_stack_and_counts_as_success(stack: LocalStack, tmp_path: Path) -> None:
    output = io.StringIO()
    seen: dict[str, object] = {}

    def press_ctrl_c() -> None:
        assert stack.info is not None
        seen["health"] = httpx.get(stack.info.service_url + "/api/health", timeout=10).status_code
        seen["stack.json"] = (tmp_path / "stack.json").exists()
        os.kill(os.getpid(), signal.SIGINT)

    # Python ignores SIGINT for good when it starts with SIGINT ignored (a background job of a shell without job
    # control): then the Ctrl-C below would never arrive and the run would wait for ever. Handle it as a terminal would.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        thread = when_up(stack, press_ctrl_c)
        code = run_in_foreground(stack, Console(file=output, width=200))
        thread.join(10)
    finally:
        signal.signal(signal.SIGINT, previous)

    assert code == 0
    assert seen == {"health": 200, "stack.json": True}
    assert stack.service is not None
    assert stack.service.process is not None
    assert stack.service.process.poll() is not None
    assert not (tmp_path / "stack.json").exists()
    printed = output.getvalue()
    assert "/api/health" in printed
    assert "/openapi.json" in printed
    assert "sandbox" in printed
    assert "Local stack stopped." in printed


@pytest.mark.db
def test_a_service_that_dies_ends_the_foreground_run_with_failure(stack: LocalStack) -> None:
    output = io.StringIO()

    def kill_service() -> None:
        assert stack.service is not None
        assert stack.service.process is not None
        os.killpg(stack.service.process.pid, signal.SIGKILL)

    thread = when_up(stack, kill_service)
    code = run_in_foreground(stack, Console(file=output, width=200))
    thread.join(10)

    assert code == 1
    assert "The service exited with code" in output.getvalue()
