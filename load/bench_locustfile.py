"""One side of one round of `invoke bench`: Locust users listing integrations at one server, measured.

Run through the harness (`harness.gates.bench`), never directly. Every user sends `GET /api/integrations`
(with the bench user's token when BENCH_TOKEN is set: the ceiling ignores it), waits BENCH_WAIT_MIN..MAX
seconds (0: saturation) and sends it again. All users start at once; after BENCH_WARMUP_S the window
opens, and after BENCH_MEASURE_S more the run ends. Each response time in the window is kept (not
Locust's rounded buckets: a ceiling answers in a millisecond or two, and its ratio must not be a rounding
artefact); the window's figures go to BENCH_RESULT as JSON.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, LoadTestShape, events, task
from locust.env import Environment

if "BENCH_RESULT" not in os.environ:
    raise SystemExit("load/bench_locustfile.py runs through the harness: `uv run invoke bench`")

USERS = int(os.environ["BENCH_USERS"])
WAIT_S = (float(os.environ.get("BENCH_WAIT_MIN", "0")), float(os.environ.get("BENCH_WAIT_MAX", "0")))
WARMUP_S = float(os.environ["BENCH_WARMUP_S"])
MEASURE_S = float(os.environ["BENCH_MEASURE_S"])
TOKEN = os.environ.get("BENCH_TOKEN", "")
LIST = "integration list"


class _Window:
    opened_at: float | None = None
    closed_at: float | None = None
    times_ms: list[float] = []  # noqa: RUF012 - one process, one window
    failures: int = 0


@events.request.add_listener  # type: ignore[untyped-decorator]  # Locust's add_listener is unannotated
def _on_request(response_time: float, exception: BaseException | None, **_: Any) -> None:
    if _Window.opened_at is None or _Window.closed_at is not None:
        return
    if exception is not None:
        _Window.failures += 1
    else:
        _Window.times_ms.append(float(response_time))


class ListingUser(FastHttpUser):
    network_timeout = 60.0
    connection_timeout = 30.0

    def wait_time(self) -> float:
        return random.uniform(*WAIT_S) if WAIT_S[1] > 0 else 0.0  # noqa: S311 - think time, not cryptography

    @task
    def integration_list(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}
        self.client.get("/api/integrations", headers=headers, name=LIST)


class BenchShape(LoadTestShape):
    """All users at once, the window after the warm-up, then stop."""

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()  # type: ignore[no-untyped-call]  # LoadTestShape's, unannotated
        if run_time >= WARMUP_S and _Window.opened_at is None:
            _Window.opened_at = time.monotonic()
        if run_time >= WARMUP_S + MEASURE_S:
            _Window.closed_at = _Window.closed_at or time.monotonic()
            return None
        return USERS, float(USERS)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest time at least `fraction` of the requests took no longer than."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def figures(times_ms: list[float], failures: int, window_s: float) -> dict[str, float]:
    ordered = sorted(times_ms)
    requests = len(ordered) + failures
    return {
        "requests": requests,
        "failures": failures,
        "window_s": round(window_s, 3),
        "rps": round(len(ordered) / window_s, 2) if window_s > 0 else 0.0,
        "p50": round(percentile(ordered, 0.50), 3),
        "p90": round(percentile(ordered, 0.90), 3),
        "p95": round(percentile(ordered, 0.95), 3),
        "p99": round(percentile(ordered, 0.99), 3),
        "avg": round(sum(ordered) / len(ordered), 3) if ordered else 0.0,
        "max": round(ordered[-1], 3) if ordered else 0.0,
    }


@events.quitting.add_listener  # type: ignore[untyped-decorator]  # Locust's add_listener is unannotated
def _write_result(environment: Environment, **_: Any) -> None:
    opened = _Window.opened_at
    closed = _Window.closed_at or time.monotonic()
    window_s = closed - opened if opened is not None else 0.0
    result = figures(_Window.times_ms, _Window.failures, window_s)
    Path(os.environ["BENCH_RESULT"]).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    environment.process_exit_code = 0
