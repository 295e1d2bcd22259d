"""A private PostgreSQL server for the local stage and the tests: no root, no Docker, no system service.

Binaries come from the `pgserver` wheel where it exists for the running Python, otherwise from a
local PostgreSQL installation (`pg_config --bindir`, then Debian's /usr/lib/postgresql/N/bin). The
server listens on a Unix socket only, so it never collides with another PostgreSQL on port 5432.
When run as root (containers, CI), PostgreSQL refuses to start, so the server runs as an unprivileged
system user created for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SERVER_USER = "pgembedded"
# Unix socket paths are limited to 107 bytes; ".s.PGSQL.5432" takes 13 of them.
_MAX_SOCKET_DIR_LENGTH = 90


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be found, created or started; the message says what to do."""


def find_postgres_binaries() -> Path:
    """The directory holding initdb and pg_ctl: the pgserver wheel's, else a local installation's."""
    candidates: list[Path] = []
    # Located without importing pgserver: its import sets up runtime directories and warns.
    wheel = importlib.util.find_spec("pgserver")
    if wheel is not None and wheel.origin is not None:
        candidates.append(Path(wheel.origin).parent / "pginstall" / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise EmbeddedPostgresError(
        "no PostgreSQL binaries found: the pgserver wheel is not installed for this Python and no "
        "local PostgreSQL (initdb, pg_ctl) was found. Install PostgreSQL (e.g. `apt-get install "
        "postgresql`) or set DATABASE_URL to an existing server."
    )


@dataclass
class EmbeddedPostgres:
    """One server on one data directory. `start` reuses a server already running on it."""

    data_dir: Path
    durable: bool = True  # False turns off fsync: for throw-away test data only

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.bin_dir = find_postgres_binaries()

    @property
    def socket_dir(self) -> Path:
        if len(str(self.data_dir)) <= _MAX_SOCKET_DIR_LENGTH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"pg-embedded-{digest}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={quote(str(self.socket_dir))}"

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        status = self._pg_ctl("status", check=False)
        return status.returncode == 0

    def start(self) -> str:
        """Initialise the data directory if needed, start the server if needed; return its URL."""
        with self._one_at_a_time():
            return self._start()

    def _start(self) -> str:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self.is_running():
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            self._hand_over(self.socket_dir)
            options = f"-c listen_addresses='' -k {self.socket_dir} -c max_connections=300"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            log = self.data_dir / "server.log"
            started = self._pg_ctl("start", "-w", "-t", "60", "-l", str(log), "-o", options, check=False)
            if started.returncode != 0:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
                raise EmbeddedPostgresError(f"PostgreSQL did not start in {self.data_dir}:\n{tail}")
        return self.url()

    def stop(self) -> None:
        with self._one_at_a_time():
            if self.is_running():
                self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")

    @contextmanager
    def _one_at_a_time(self) -> Iterator[None]:
        """Processes sharing a data directory (parallel test workers, a gate beside `invoke up`) start and
        stop it one at a time: two `pg_ctl start` at once make one of them fail on the other's lock file."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir.with_suffix(".start-lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    @contextmanager
    def shared(self) -> Iterator[str]:
        """Use the server alongside other processes; the last one to leave stops it.

        Each user holds a shared lock on a file beside the data directory; leaving, a user stops
        the server only if it can take the lock exclusively, i.e. nobody else is still using it.
        """
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            try:
                yield self.start()
            finally:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass  # still in use elsewhere
                else:
                    self.stop()

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._hand_over(self.data_dir)
        result = self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}:\n{result.stderr[-2000:]}")

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args], check=check)

    def _run(self, command: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        account = _server_account()
        env = {**os.environ, "LC_ALL": "C"}
        if account is None:
            return subprocess.run(command, capture_output=True, text=True, check=check, env=env)
        env["HOME"] = str(self.data_dir)
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=check,
            env=env,
            cwd=self.data_dir,
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=[],
        )

    def _hand_over(self, directory: Path) -> None:
        """As root: give the directory to the server's user and let it reach it and its binaries."""
        account = _server_account()
        if account is None:
            return
        os.chown(directory, account.pw_uid, account.pw_gid)
        directory.chmod(0o700)
        for path in [*directory.parents, *self.bin_dir.parents]:
            mode = path.stat().st_mode
            if not mode & 0o001:
                # Traverse permission only (no listing), as PostgreSQL must reach its files.
                path.chmod(mode | 0o001)


def _server_account() -> pwd.struct_passwd | None:
    """None when not root; as root, the unprivileged account the server runs as (created once)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVER_USER)
