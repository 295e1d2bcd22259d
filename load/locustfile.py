"""The load profiles: CRM users driving the service's checklist operations, judged against thresholds.

Run through the harness, never directly: `uv run invoke load --stage local --profile gate`. The harness
starts the stack, issues one API token per simulated user, and hands them over in the file named by
`LOAD_SETUP` (with the service and sandbox URLs, the Stripe signing secret and the database URL).

Request names are the checklist's operations (`integration list`, `integration creation`,
`sync 100 invoices`, `webhook processing`, `database query`); each user's own setup is named
`setup: ...` and happens before the measured window. Thresholds (`load/thresholds.toml`, or the file
named by `LOAD_THRESHOLDS`) are judged on the master when Locust quits: a breach sets exit code 1 and
is logged as `THRESHOLD BREACHED: <operation>: <expression> (actual ...)`. The window's figures and
verdicts go to `<LOAD_REPORT_DIR>/load-results.json`.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gevent
import psycopg
from locust import FastHttpUser, LoadTestShape, events, task
from locust.contrib.fasthttp import FastResponse
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats, StatsEntry
from psycopg_pool import ConnectionPool

from load import profiles, stripe_events, thresholds

log = logging.getLogger("load")

if "LOAD_SETUP" not in os.environ:
    raise SystemExit("load/locustfile.py runs through the harness: `uv run invoke load --stage local --profile smoke`")

SETUP: dict[str, Any] = json.loads(Path(os.environ["LOAD_SETUP"]).read_text(encoding="utf-8"))
PROFILE = profiles.load_profile(os.environ.get("LOAD_PROFILE", "smoke"))
TABLE = thresholds.load_table(Path(os.environ.get("LOAD_THRESHOLDS", str(thresholds.DEFAULT_THRESHOLDS))))
REPORT_DIR = Path(os.environ.get("LOAD_REPORT_DIR", "."))
WORKERS = max(1, int(os.environ.get("LOAD_WORKERS", "0")))
# operation -> metric -> service/ceiling, measured by `invoke bench` in the same run: the ratio thresholds' figures.
CEILING_RATIOS: dict[str, dict[str, float]] | None = (
    json.loads(os.environ["LOAD_CEILING_RATIOS"]) if os.environ.get("LOAD_CEILING_RATIOS") else None
)

LIST, CREATE, DELETE = "integration list", "integration creation", "integration deletion"
SYNC, WEBHOOK, QUERY = "sync 100 invoices", "webhook processing", "database query"
SYNC_DEFERRED = "sync deferred (503 + Retry-After)"
LIST_DURING_BURST = "integration list (other users, during the burst)"
QUEUED_POLL_S = 0.5  # a 202's log is read this often until the sync ended
SYNC_ATTEMPTS = 3
INVOICES_PER_TENANT = 100

# The checklist's monitoring ("Daily Checks") and database-testing SQL, verbatim where it is bounded.
# `SELECT * FROM integrations_Sync_Logs` (unbounded, grows with every request of the run) is left out.
CHECKLIST_SQL = (
    "SELECT integration_type, sync_status, COUNT(*) FROM integrations_Credentials "
    "GROUP BY integration_type, sync_status",
    "SELECT integration_type, COUNT(*) as errors FROM integrations_Sync_Logs "
    "WHERE status = 'failed' AND created_at > NOW() - INTERVAL '24 hours' GROUP BY integration_type",
    "SELECT integration_type, COUNT(*) FROM integrations_Sync_Logs WHERE sync_type IN ('webhook', 'event') "
    "AND created_at > NOW() - INTERVAL '24 hours' GROUP BY integration_type",
    "SELECT * FROM xero_Invoices LIMIT 10",
    "EXPLAIN ANALYZE SELECT * FROM integrations_Credentials WHERE user_id = 'xxx'",
    "SELECT COUNT(*) FROM xero_Invoices WHERE xero_invoice_id IS NULL",
    "SELECT COUNT(*) FROM integrations_Credentials",
)


def busy_retry_after(status: int, retry_after: str | None) -> float | None:
    """Seconds to wait before asking again when the service says it is busy (503 + Retry-After), else None."""
    if status != 503 or retry_after is None or not retry_after.isdigit():
        return None
    return min(float(retry_after), 10.0)


class _Clock:
    """When this process's test started; the burst fires `warmup_s` later in every process."""

    started_at: float = time.monotonic()
    window_started_at: float | None = None
    window_ended_at: float | None = None
    knee_users: int | None = None
    stress_steps: list[dict[str, Any]] = []  # noqa: RUF012 - one mutable log per process


_user_numbers = itertools.count()
_pool: ConnectionPool | None = None


@events.test_start.add_listener  # type: ignore[untyped-decorator]  # Locust's add_listener is unannotated
def _on_test_start(environment: Environment, **_: Any) -> None:
    _Clock.started_at = time.monotonic()


def database_pool() -> ConnectionPool:
    """A few connections shared by this process's users (100 users must not hold 100 connections)."""
    global _pool
    if _pool is None:
        _pool = ConnectionPool(
            SETUP["database_url"],
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "application_name": "load-database-query"},
            open=True,
        )
    return _pool


def redirect_location(response: FastResponse) -> str:
    """Where a redirect sends the browser: its one `Location` header."""
    assert response.headers is not None
    location = response.headers["Location"]
    assert isinstance(location, str), location
    return location


class CrmUser(FastHttpUser):
    """One NextCRM user: own API token, a Xero organisation of 100 invoices, a Stripe account with a charge."""

    host = SETUP["service_url"]
    network_timeout = 120.0
    connection_timeout = 30.0

    def wait_time(self) -> float:
        if PROFILE.kind == "burst":
            return 0.25 if self.bystander else 1.0
        return random.uniform(*PROFILE.wait_s)  # noqa: S311 - think time, not cryptography

    def on_start(self) -> None:
        number = next(_user_numbers)
        worker_index = getattr(self.environment.runner, "worker_index", 0) or 0
        tokens: list[str] = SETUP["tokens"]
        self.headers = {"Authorization": f"Bearer {tokens[(number * WORKERS + worker_index) % len(tokens)]}"}
        self.label = f"load-{worker_index}-{number}-{uuid.uuid4().hex[:6]}"
        self.burst_done = False
        # In a burst, every `users / bystanders`-th user does not sync: it lists meanwhile, as other users would.
        index = number * WORKERS + worker_index  # the user's number across every Locust process
        self.bystander = PROFILE.bystanders > 0 and index % (PROFILE.users // PROFILE.bystanders) == 0
        self.xero_id = self.connect_xero()
        self.charge_id = self.stripe_charge()

    # --- setup (before the measured window) -------------------------------------------------------

    def connect_xero(self) -> str:
        """A sandbox organisation of 100 invoices, connected through the real OAuth flow."""
        sandbox = SETUP["sandbox_url"]
        tenant = self.client.post(
            f"{sandbox}/_sandbox/tenants",
            json={"provider": "xero", "invoices": INVOICES_PER_TENANT, "contacts": 5, "name": self.label},
            name="setup: sandbox tenant",
        )
        tenant.raise_for_status()
        started = self.client.get(
            "/api/integrations/xero/connect", headers=self.headers, allow_redirects=False, name="setup: connect"
        )
        consent_url = redirect_location(started) + "&" + urlencode({"sandbox_tenant": tenant.json()["tenant_id"]})
        # The user's browser from here on: it does not carry the API token.
        consent = self.client.get(consent_url, allow_redirects=False, name="setup: consent")
        back = self.client.get(redirect_location(consent), allow_redirects=False, name="setup: callback")
        back.raise_for_status()
        return str(back.json()["integration"]["id"])

    def stripe_charge(self) -> str:
        created = self.client.post(
            "/api/integrations",
            json={"integrationType": "STRIPE", "integrationName": self.label, "apiKey": SETUP["stripe_api_key"]},
            headers=self.headers,
            name="setup: stripe integration",
        )
        created.raise_for_status()
        paid = self.client.post(
            "/api/integrations/stripe/payment-intents",
            json={
                "integrationId": created.json()["integration"]["id"],
                "amount": 1000,
                "currency": "usd",
                "paymentMethod": "pm_card_visa",
            },
            headers=self.headers,
            name="setup: stripe charge",
        )
        paid.raise_for_status()
        return str(paid.json()["payment"]["stripeChargeId"])

    # --- the checklist's operations ---------------------------------------------------------------

    @task(5)
    def integration_list(self) -> None:
        if PROFILE.kind != "burst":
            self.client.get("/api/integrations", headers=self.headers, name=LIST)
        elif self.bystander and _Clock.window_started_at is not None and _Clock.window_ended_at is None:
            self.client.get("/api/integrations", headers=self.headers, name=LIST_DURING_BURST)

    @task(2)
    def integration_creation(self) -> None:
        """Create one, then delete it, so that every user's list keeps its size through the run."""
        if PROFILE.kind == "burst":
            return
        body = {
            "integrationType": "QUICKBOOKS",
            "integrationName": f"{self.label}-qbo",
            "customData": {"realmId": "load"},
        }
        with self.client.post("/api/integrations", json=body, headers=self.headers, name=CREATE) as created:
            if created.status_code != 201:
                return
            integration_id = created.json()["integration"]["id"]
        self.client.delete(f"/api/integrations/{integration_id}", headers=self.headers, name=DELETE)

    @task(1)
    def sync_invoices(self) -> None:
        if PROFILE.kind == "burst":
            if self.bystander or self.burst_done or time.monotonic() < _Clock.started_at + PROFILE.warmup_s:
                return
            self.burst_done = True
        body = {"integrationId": self.xero_id, "dataType": "invoices", "fullResync": True}
        for attempt in range(1, SYNC_ATTEMPTS + 1):
            with self.client.post(
                "/api/integrations/sync", json=body, headers=self.headers, name=SYNC, catch_response=True
            ) as answer:
                wait_s = busy_retry_after(answer.status_code, answer.headers.get("Retry-After"))
                if wait_s is not None and attempt < SYNC_ATTEMPTS:
                    # The service's designed back-pressure (it runs SYNC_MAX_CONCURRENT syncs at once): a client
                    # waits as told and asks again. Counted apart, so that the report shows how often it happened.
                    answer.request_meta["name"] = SYNC_DEFERRED
                    answer.success()
                elif answer.status_code == 202:  # still queued or running: follow its log, as a client would
                    judge_sync(answer, self.follow_queued(answer.headers["Location"]))
                elif answer.status_code != 200:
                    answer.failure(f"HTTP {answer.status_code}")
                else:
                    judge_sync(answer, answer.json()["result"])
            if wait_s is None:
                return
            gevent.sleep(wait_s)

    def follow_queued(self, location: str) -> dict[str, Any]:
        """The queued sync's log once it ended (its status and counts), read every QUEUED_POLL_S."""
        while True:
            gevent.sleep(QUEUED_POLL_S)
            read = self.client.get(location, headers=self.headers, name="sync: read its log")
            if read.status_code == 200 and read.json()["status"] not in ("queued", "running"):
                return {"status": read.json()["status"], "syncedRecords": read.json()["syncedRecords"]}

    @task(2)
    def webhook_processing(self) -> None:
        """A genuinely signed `charge.succeeded` about this user's charge; the service must apply it."""
        if PROFILE.kind == "burst":
            return
        event = stripe_events.charge_succeeded(f"evt_load_{uuid.uuid4().hex}", self.charge_id)
        payload = json.dumps(event).encode()
        headers = {"Stripe-Signature": stripe_events.sign_stripe(payload, SETUP["stripe_webhook_secret"])}
        headers["Content-Type"] = "application/json"
        # Locust annotates `data` as str | dict, but sends bytes as they are (its docstring says so): the
        # signature covers these exact bytes.
        self.client.post("/api/integrations/stripe/webhook", data=payload, headers=headers, name=WEBHOOK)  # type: ignore[arg-type]

    @task(2)
    def database_query(self) -> None:
        """One of the checklist's SQL checks, timed like any request (connection wait excluded)."""
        if PROFILE.kind == "burst":
            return
        sql = random.choice(CHECKLIST_SQL)  # noqa: S311
        with database_pool().connection() as connection:
            started = time.perf_counter()
            error: Exception | None = None
            try:
                connection.execute(sql).fetchall()  # the checklist's literal SQL
            except psycopg.Error as exc:
                error = exc
            elapsed_ms = (time.perf_counter() - started) * 1000
        events.request.fire(
            request_type="SQL",
            name=QUERY,
            response_time=elapsed_ms,
            response_length=0,
            exception=error,
            context={},
        )


# --- the profile's shape, and judging on the master ------------------------------------------------


def judge_sync(answer: Any, result: dict[str, Any]) -> None:
    """A sync counts when it stored every invoice (a 202 counts once its log says so)."""
    if result.get("status", "success") != "success":
        answer.failure(f"sync ended {result['status']}")
    elif result["syncedRecords"] != INVOICES_PER_TENANT:
        answer.failure(f"synced {result['syncedRecords']} of {INVOICES_PER_TENANT}")
    else:
        answer.success()


def _stats_of(entry: StatsEntry) -> thresholds.WindowStats:
    percentile = entry.get_response_time_percentile
    return thresholds.WindowStats(
        requests=entry.num_requests,
        failures=entry.num_failures,
        p50=float(percentile(0.5) or 0),
        p90=float(percentile(0.9) or 0),
        p95=float(percentile(0.95) or 0),
        p99=float(percentile(0.99) or 0),
        avg=float(entry.avg_response_time),
        max=float(entry.max_response_time or 0),
    )


def window_stats(stats: RequestStats) -> dict[str, thresholds.WindowStats]:
    window = {
        name: _stats_of(entry)
        for (name, _method), entry in stats.entries.items()
        if entry.num_requests or entry.num_failures  # names reset at the window's start and never seen again
    }
    window[thresholds.OVERALL] = _stats_of(stats.total)
    return window


class ProfileShape(LoadTestShape):
    """The selected profile's timeline; resets the statistics when the measured window opens."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # LoadTestShape.__init__ is unannotated
        self.step = -1

    def open_window(self) -> None:
        assert self.runner is not None
        self.runner.stats.reset_all()
        _Clock.window_started_at = time.monotonic()
        log.info("measured window opens (%s users)", self.runner.user_count)

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()  # type: ignore[no-untyped-call]  # LoadTestShape's, unannotated
        if PROFILE.kind == "steady":
            return self.steady(run_time)
        if PROFILE.kind == "stress":
            return self.stress(run_time)
        return self.burst(run_time)

    def steady(self, run_time: float) -> tuple[int, float] | None:
        if run_time >= PROFILE.warmup_s and _Clock.window_started_at is None:
            self.open_window()
        if run_time >= PROFILE.warmup_s + PROFILE.steady_s:
            _Clock.window_ended_at = time.monotonic()
            return None
        return PROFILE.users, PROFILE.spawn_rate

    def burst(self, run_time: float) -> tuple[int, float] | None:
        assert self.runner is not None
        if run_time >= PROFILE.warmup_s and _Clock.window_started_at is None:
            self.open_window()
        answered = self.runner.stats.get(SYNC, "POST").num_requests if _Clock.window_started_at else 0
        if answered >= PROFILE.syncing_users or run_time >= PROFILE.warmup_s + PROFILE.max_s:
            _Clock.window_ended_at = time.monotonic()
            return None
        return PROFILE.users, PROFILE.spawn_rate

    def stress(self, run_time: float) -> tuple[int, float] | None:
        assert self.runner is not None
        step = int(run_time // PROFILE.step_s)
        if step != self.step:
            if self.step >= 0 and self.judge_step():
                return None  # a threshold broke: the knee is found
            if step >= PROFILE.steps:
                _Clock.window_ended_at = time.monotonic()
                return None
            self.step = step
            _Clock.window_started_at = None
        if run_time - step * PROFILE.step_s >= PROFILE.settle_s and _Clock.window_started_at is None:
            self.open_window()
        return PROFILE.step_users_at(step), PROFILE.spawn_rate

    def judge_step(self) -> bool:
        """Judge the step that just ended; True when it breached (the previous step is the knee)."""
        assert self.runner is not None
        users = PROFILE.step_users_at(self.step)
        failed = thresholds.breaches(thresholds.judge(TABLE, window_stats(self.runner.stats)))
        _Clock.stress_steps.append({"users": users, "breaches": [verdict.describe() for verdict in failed]})
        log.info("stress step of %s users: %s", users, "; ".join(v.describe() for v in failed) or "all thresholds held")
        if failed:
            _Clock.window_ended_at = time.monotonic()
            return True
        _Clock.knee_users = users
        return False


@events.quitting.add_listener  # type: ignore[untyped-decorator]  # Locust's add_listener is unannotated
def judge_run(environment: Environment, **_: Any) -> None:
    """On the master (or the only process): judge the window, write the results, set the exit code."""
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    window = window_stats(environment.runner.stats)
    verdicts = thresholds.judge(TABLE, window, CEILING_RATIOS)
    failed = thresholds.breaches(verdicts)
    ended = _Clock.window_ended_at or time.monotonic()
    results: dict[str, Any] = {
        "profile": PROFILE.name,
        "kind": PROFILE.kind,
        "users": PROFILE.users,
        "workers": int(os.environ.get("LOAD_WORKERS", "0")),
        "window_s": round(ended - _Clock.window_started_at, 1) if _Clock.window_started_at else 0.0,
        "operations": {name: {**vars(stats), "fail_rate": stats.fail_rate} for name, stats in window.items()},
        "targets_ms": dict(TABLE.targets_ms),
        "thresholds": thresholds.verdicts_json(verdicts),
        "breaches": [verdict.describe() for verdict in failed],
        "unjudged": thresholds.unjudged(TABLE, CEILING_RATIOS),
    }
    if PROFILE.kind == "stress":
        # Finding the knee is the point: the run passes once it has found (or exceeded) it.
        results["knee_users"] = _Clock.knee_users
        results["steps"] = _Clock.stress_steps
        failed = [] if _Clock.stress_steps else failed
        results["breaches"] = [] if _Clock.stress_steps else results["breaches"]
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "load-results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for verdict in failed:
        log.error("THRESHOLD BREACHED: %s", verdict.describe())
    if not failed:
        log.info("all %s thresholds held over a %.0f s window", len(verdicts), results["window_s"])
    environment.process_exit_code = 1 if failed else 0
    if _pool is not None:
        gevent.spawn(_pool.close).join(timeout=5)
