"""Real server processes on real ports: start one, wait until it answers, stop it cleanly.

The local stack, the gate and the tests start the service and the provider sandbox through this one
mechanism, so that what the tests exercise is what `invoke up` runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from harness.core.tls import ServerTls, client_verify

LOG_TAIL_CHARACTERS = 3000


class ServerStartError(RuntimeError):
    """A server process exited or never became ready; the message carries its log's tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def uvicorn_command(app_factory: str, port: int, host: str = "127.0.0.1", workers: int = 1) -> list[str]:
    """The command that serves `module:factory` (an app factory) with uvicorn from this Python; `workers` > 1
    serves with that many processes (each builds its own app: its own pools and waiters, see README)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app_factory,
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        # The service reads X-Forwarded-For itself, from its TRUSTED_PROXIES only; uvicorn's own reading
        # trusts 127.0.0.1 by default, which would let any local caller pick its rate-limit bucket.
        "--no-proxy-headers",
        "--timeout-graceful-shutdown",
        "5",
        # Longer than any client's idle gap between requests (Locust users wait 2-4 s, more on a loaded
        # machine): with uvicorn's 5 s a connection could close just as a client reused it.
        "--timeout-keep-alive",
        "75",
        *(["--workers", str(workers)] if workers > 1 else []),
    ]


@dataclass
class Companion:
    """A process without a port that runs beside a server, started and stopped with it (the service's sync
    worker). `kill()` is for tests of a crash."""

    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Companion:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        return self

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = log_tail(self.log_path, LOG_TAIL_CHARACTERS)
            raise ServerStartError(f"{self.name} exited with code {self.process.returncode}:\n{tail}")

    def stop(self, timeout_s: float = 10.0) -> None:
        _stop_group(self.process, timeout_s)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no cleanup runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def _stop_group(process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout_s)


@dataclass
class ServerProcess:
    """One child process serving HTTP at `url`, its output in `log_path`; its companions start and stop with it."""

    name: str
    command: list[str]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/"
    host: str = "127.0.0.1"
    tls: ServerTls | None = None  # it serves HTTPS with this certificate; readiness is checked against its CA
    companions: list[Companion] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
        )
        for companion in self.companions:
            companion.start()
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        """Poll the ready path until any HTTP answer that is not a 5xx; fail fast if the process died."""
        deadline = time.monotonic() + timeout_s
        last_error = "no answer yet"
        verify = client_verify(self.tls.ca_bundle if self.tls else None)
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                self.stop()  # closes the log
                raise ServerStartError(f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                for companion in self.companions:
                    companion.check_alive()
            except ServerStartError:
                self.stop()
                raise
            try:
                response = httpx.get(self.url + self.ready_path, timeout=2.0, verify=verify)
                if response.status_code < 500:
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:300]}"
            except httpx.TransportError as exc:
                last_error = type(exc).__name__
            time.sleep(0.1)
        self.stop()
        raise ServerStartError(
            f"{self.name} was not ready at {self.url}{self.ready_path} after {timeout_s:.0f}s "
            f"({last_error}):\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        _stop_group(self.process, timeout_s)
        for companion in self.companions:
            companion.stop(timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the server and its companions, as a crashed machine would leave them: no shutdown hook runs.
        `stop()` afterwards closes the log; `start()` starts them all again."""
        for process in (self.process, *(companion.process for companion in self.companions)):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def log_tail(self, characters: int = 4000) -> str:
        return log_tail(self.log_path, characters)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# A command that ran out of time is interrupted first, as Ctrl-C would: pytest then tears its fixtures down,
# which stops the services and workers its steps started (each in a session of its own, out of reach of a
# kill of pytest alone). It is killed only when it has not ended this long after.
INTERRUPT_GRACE_S = 60.0


def run_logged(
    command: Sequence[str],
    log_path: Path,
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    name: str = "",
    interrupt_grace_s: float = INTERRUPT_GRACE_S,
) -> int:
    """Run `command` to its end with its output in `log_path` (after the command line; secrets belong in `env`)
    and return its exit code; a timeout interrupts it (SIGINT), kills it after `interrupt_grace_s`, and counts
    as a failure (-1). `name` says what was stopped."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            how = _interrupt(process, interrupt_grace_s)
            log.write(f"\n[harness] {name + ' ' if name else ''}{how} after {timeout_s:.0f}s\n".encode())
            return -1
        finally:
            if process.poll() is None:  # the harness itself was interrupted: the command must not outlive it
                process.kill()
                process.wait()


def _interrupt(process: subprocess.Popen[bytes], grace_s: float) -> str:
    """SIGINT, then SIGKILL if it has not ended after `grace_s`; says which ended it."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return "killed"
    return "interrupted"


def log_tail(path: Path, characters: int = LOG_TAIL_CHARACTERS) -> str:
    """The end of a log, for a message or a console: a short log whole, a long one cut at the front."""
    if not path.exists():
        return "(no output)"
    text = path.read_text(encoding="utf-8", errors="replace")
    return text if len(text) <= characters else "…" + text[-characters:]
