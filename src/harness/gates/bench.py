"""`invoke bench`: the service against the bare stack (`load/ceiling.py`) on the same machine, same PostgreSQL.

One stack for the whole bench: a fresh database on the load runs' embedded server, migrated; the service
(with its sync worker, as it is deployed) and the ceiling, both under uvicorn with the same flags; one
user with `integrations` integrations, created through the service's API. Then Locust
(`load/bench_locustfile.py`, one process per side and round) in two modes, alternating the sides and
flipping their order every round: saturation (users without a wait: throughput) and the checklist's load
model (100 users waiting 2-4 s: latency). The service's rate limit is raised out of reach (the limiter
still runs): the bench measures the request path, not the limit. Results: `bench.json` + `bench.md`
(`harness.gates.bench_results`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from harness.core.database import drop_database
from harness.core.paths import PROJECT_ROOT
from harness.core.processes import ServerProcess, free_port, run_logged, uvicorn_command
from harness.gates.bench_results import BenchResults, summarize_mode, write_bench
from harness.gates.load import LOAD_DIR, one_load_run_at_a_time
from harness.stack.local import LocalStack, service_process
from harness.stack.tokens import issue_tokens
from integration_service.db import migrations

BENCH_LOCUSTFILE = LOAD_DIR / "bench_locustfile.py"
CEILING_APP = "load.ceiling:app_from_env"
BENCH_USER = "bench-user"
Say = Callable[[str], None]


class BenchError(RuntimeError):
    """The bench could not run; the message says what failed and where its log is."""


@dataclass(frozen=True)
class Mode:
    name: str  # "saturation" | "model" (bench_results.MODE_METRICS)
    users: int
    wait_s: tuple[float, float]
    warmup_s: float
    measure_s: float


@dataclass(frozen=True)
class BenchConfig:
    rounds: int = 3
    integrations: int = 10
    saturation_users: int = 50
    saturation_s: float = 15.0
    model_users: int = 100
    model_wait_s: tuple[float, float] = (2.0, 4.0)
    model_s: float = 30.0
    warmup_s: float = 5.0

    def modes(self) -> list[Mode]:
        return [
            Mode("saturation", self.saturation_users, (0.0, 0.0), self.warmup_s, self.saturation_s),
            Mode("model", self.model_users, self.model_wait_s, self.warmup_s, self.model_s),
        ]


@dataclass
class BenchTargets:
    """The two servers under test and what a request to each needs."""

    urls: dict[str, str]  # side -> base URL
    token: str  # the bench user's API token (the ceiling ignores it)
    logs: list[ServerProcess] = field(default_factory=list)


def run_bench(config: BenchConfig, report_dir: Path, say: Say | None = None) -> BenchResults:
    """Every round of every mode on one stack; the results written to `report_dir` (bench.json, bench.md)."""
    say = say or (lambda message: None)
    report_dir.mkdir(parents=True, exist_ok=True)
    rounds: dict[str, list[dict[str, Any]]] = {mode.name: [] for mode in config.modes()}
    with bench_stack(config, report_dir) as targets:
        say(f"service {targets.urls['service']}, ceiling {targets.urls['ceiling']}; {config.rounds} rounds")
        for number in range(config.rounds):
            for mode in config.modes():
                order = ("service", "ceiling") if number % 2 == 0 else ("ceiling", "service")
                entry: dict[str, Any] = {"order": list(order)}
                for side in order:
                    entry[side] = run_side(mode, side, targets, report_dir / f"round-{number + 1}-{mode.name}-{side}")
                    say(f"round {number + 1} {mode.name} {side}: {_brief(entry[side])}")
                rounds[mode.name].append(entry)
    results = BenchResults(
        integrations=config.integrations,
        rounds=rounds,
        summaries={
            mode.name: summarize_mode(mode.name, mode.users, mode.wait_s, rounds[mode.name]) for mode in config.modes()
        },
    )
    write_bench(results, report_dir)
    return results


def _brief(figures: dict[str, float]) -> str:
    return (
        f"{figures['rps']:g} req/s, p50 {figures['p50']:g} ms, p95 {figures['p95']:g} ms, p99 {figures['p99']:g} ms, "
        f"{figures['failures']:g} failed of {figures['requests']:g}"
    )


def run_side(mode: Mode, side: str, targets: BenchTargets, out_dir: Path) -> dict[str, float]:
    """One Locust run against one side; its window's figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = out_dir / "result.json"
    command = [
        sys.executable, "-m", "locust", "-f", str(BENCH_LOCUSTFILE), "--headless", "--host", targets.urls[side],
        "--only-summary", "--logfile", str(out_dir / "locust.log"), "--stop-timeout", "5",
    ]  # fmt: skip
    env = {
        **os.environ,
        "BENCH_RESULT": str(result),
        "BENCH_USERS": str(mode.users),
        "BENCH_WAIT_MIN": str(mode.wait_s[0]),
        "BENCH_WAIT_MAX": str(mode.wait_s[1]),
        "BENCH_WARMUP_S": str(mode.warmup_s),
        "BENCH_MEASURE_S": str(mode.measure_s),
        "BENCH_TOKEN": targets.token if side == "service" else "",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    timeout_s = mode.warmup_s + mode.measure_s + 90
    code = run_logged(
        command, out_dir / "locust-output.log", cwd=PROJECT_ROOT, timeout_s=timeout_s, env=env, name="Locust"
    )
    if code != 0 or not result.exists():
        raise BenchError(
            f"Locust against the {side} exited {code} without figures: see {out_dir / 'locust-output.log'}"
        )
    figures: dict[str, float] = json.loads(result.read_text(encoding="utf-8"))
    return figures


@contextmanager
def bench_stack(config: BenchConfig, report_dir: Path) -> Iterator[BenchTargets]:
    """The service and the ceiling on one fresh database of the load runs' server, the bench user seeded.
    One bench (or load run) at a time: each measures the whole machine."""
    stack = LocalStack(
        state_dir=Path(tempfile.mkdtemp(prefix="bench-stack-")),
        database_name=f"bench_{uuid.uuid4().hex[:8]}",
        data_dir=PROJECT_ROOT / ".stack" / "pgdata-load",
    )
    servers: list[ServerProcess] = []
    with one_load_run_at_a_time():
        database_url = stack.start_database()
        try:
            migrations.upgrade(database_url)
            logs = stack.state_dir / "logs"
            # The limiter still runs on every request; its limit is out of the bench's reach.
            service = service_process(database_url, logs, env={"RATE_LIMIT": "100000000/minute"})
            servers.append(service.start())
            token, user_id = seed_user(database_url, service.url, config.integrations)
            ceiling = ceiling_process(database_url, user_id, logs)
            servers.append(ceiling.start())
            yield BenchTargets({"service": service.url, "ceiling": ceiling.url}, token, servers)
        finally:
            for server in servers:
                server.stop()
                with suppress(OSError):
                    (report_dir / f"{server.name}.log").write_bytes(server.log_path.read_bytes())
            with suppress(Exception):  # a leftover database is harmless; the figures matter more
                drop_database(database_url, stack.database_name)
            stack.stop()


def ceiling_process(database_url: str, user_id: str, log_dir: Path) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        name="ceiling",
        command=uvicorn_command(CEILING_APP, port),
        port=port,
        log_path=log_dir / f"ceiling-{port}.log",
        env={
            "CEILING_DATABASE_URL": database_url,
            "CEILING_USER_ID": user_id,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        },
        ready_path="/api/integrations",
    )


def seed_user(database_url: str, service_url: str, integrations: int) -> tuple[str, str]:
    """The bench user's token and id, and its integrations, created as a client would (the service's API)."""
    [token] = issue_tokens(database_url, [BENCH_USER], "bench")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service_url, headers=headers, timeout=30) as client:
        for number in range(integrations):
            body = {
                "integrationType": "QUICKBOOKS",
                "integrationName": f"bench-{number}",
                "customData": {"realmId": "b"},
            }
            client.post("/api/integrations", json=body).raise_for_status()
        listed = client.get("/api/integrations").json()
    if listed["total"] != integrations:
        raise BenchError(f"the service lists {listed['total']} integrations for the bench user, not {integrations}")
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT id FROM users WHERE name = %s", [BENCH_USER]).fetchone()
    assert row is not None
    return token, str(row[0])


def run_bench_task(config: BenchConfig, *, reports_dir: Path | None = None, say: Say | None = None) -> Path:
    """`invoke bench`: a new `reports/<run-id>/bench/` folder, the bench, the table; the folder."""
    from datetime import UTC, datetime

    from harness.core.paths import REPORTS_DIR
    from harness.core.runs import git_state, new_run_dir
    from harness.gates.bench_results import markdown

    run_dir = new_run_dir(reports_dir or REPORTS_DIR, datetime.now(UTC), git_state(PROJECT_ROOT)[0])
    results = run_bench(config, run_dir / "bench", say)
    if say is not None:
        say(markdown(results))
    return run_dir / "bench"
