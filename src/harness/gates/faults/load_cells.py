"""Cells about many requests at once: the database restarted under them, and a burst of syncs.

Each request's answer is recorded (status, whether the body was JSON, Retry-After, how long it took)
and judged afterwards, so the detail can say exactly what each fault produced.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from harness.gates.faults.cells import Cell
from harness.gates.faults.lab import CellFailed, FaultLab, User, require, wait_for

OUTAGE_S = 2.0
REQUEST_TIMEOUT_S = 10.0  # longer than any honest answer here: a request that reaches it hung
BURST = 24


@dataclass(frozen=True)
class Answer:
    what: str  # "create <name>", "list", "sync <id>"
    status: int | None  # None: no HTTP answer at all (timeout, reset)
    json_body: bool
    retry_after: str | None
    seconds: float
    error: str = ""

    def describe(self) -> str:
        return f"{self.what} → {self.status or self.error}"


def ask(what: str, client: httpx.Client, method: str, path: str, **options: Any) -> Answer:
    started = time.monotonic()
    try:
        response = client.request(method, path, **options)
    except httpx.HTTPError as exc:
        return Answer(what, None, False, None, time.monotonic() - started, type(exc).__name__)
    json_body = response.headers.get("content-type", "").startswith("application/json") and bool(response.content)
    retry_after = response.headers.get("retry-after")
    return Answer(what, response.status_code, json_body, retry_after, time.monotonic() - started)


def _hammer(user: User, stop: threading.Event, answers: list[Answer]) -> None:
    """Create an integration, list them, again, until told to stop."""
    while not stop.is_set():
        name = f"restart-{uuid.uuid4().hex[:10]}"
        body = {"integrationType": "XERO", "integrationName": name}
        answers.append(ask(f"create {name}", user.client, "POST", "/api/integrations", json=body))
        answers.append(ask("list", user.client, "GET", "/api/integrations", params={"limit": 5}))


def _answers(user: User) -> bool:
    return ask("list", user.client, "GET", "/api/integrations").status == 200


def database_restarted_under_load(lab: FaultLab) -> str:
    user = lab.user("restart")
    user.client.timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    answers: list[Answer] = []
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(4):
            pool.submit(_hammer, user, stop, answers)
        try:
            time.sleep(1.0)
            lab.stop_database()
            time.sleep(OUTAGE_S)
            lab.start_database()
            recovered = time.monotonic()
            wait_for("the service to answer again", lambda: _answers(user))
            time.sleep(1.0)
        finally:  # else the hammering threads never end, and neither does the pool they run in
            stop.set()
    recovery_s = time.monotonic() - recovered - 1.0
    hung = [a.describe() for a in answers if a.status is None]
    require(not hung, f"requests got no HTTP answer (hang or reset) while PostgreSQL restarted: {hung[:5]}")
    # A client hammering a service whose database is down gets fast answers, so it may also hit the rate limit:
    # a 429 with a JSON body is an honest answer too; anything else must be a 5xx with a JSON body.
    bad = [
        a.describe()
        for a in answers
        if a.status not in (200, 201) and not (a.json_body and ((a.status or 0) >= 500 or a.status == 429))
    ]
    require(not bad, f"errors should be 5xx (or 429) with a JSON body: {bad[:5]}")
    failed = [a for a in answers if (a.status or 0) >= 500]
    require(bool(failed), "no request failed while PostgreSQL was down: the outage was not felt, nothing was proved")
    created = {a.what.split(" ", 1)[1] for a in answers if a.what.startswith("create") and a.status == 201}
    rows = lab.rows(
        "SELECT integration_name FROM integrations_credentials i JOIN users u ON u.id = i.user_id WHERE u.name = %s",
        user.account,
    )
    stored = {row["integration_name"] for row in rows}
    require(
        stored == created,
        f"rows stored should be exactly the creates answered 201: {len(stored - created)} stored without a 201, "
        f"{len(created - stored)} answered 201 but missing",
    )
    statuses = sorted({str(a.status) for a in failed})
    return (
        f"{len(answers)} requests, {len(failed)} answered {'/'.join(statuses)} with JSON during the outage, "
        f"none hung; answering again {recovery_s:.1f} s after the restart; "
        f"{len(stored)} rows = the {len(created)} creates answered 201"
    )


def _other_user_meanwhile(other: User, done: threading.Event, answers: list[Answer]) -> None:
    while not done.is_set():
        answers.append(ask("list", other.client, "GET", "/api/integrations"))


def _sync_once(lab: FaultLab, user: User, integration: str) -> Answer:
    body = {"integrationId": integration, "dataType": "invoices"}
    return ask(f"sync {integration}", user.client, "POST", "/api/integrations/sync", json=body)


def concurrent_syncs(lab: FaultLab) -> str:
    user, other = lab.user("burst"), lab.user("bystander")
    tenants = [lab.xero_organisation(100) for _ in range(BURST)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        integrations = list(pool.map(lambda tenant: lab.connect_xero(user, tenant), tenants))
    # Every sync holds its page a moment, so that the 24 overlap as a real burst would.
    lab.add_fault(provider="xero", kind="delay", path="/Invoices", delay_ms=1000, times=None)
    bystander: list[Answer] = []
    done = threading.Event()
    with ThreadPoolExecutor(max_workers=BURST + 1) as pool:
        pool.submit(_other_user_meanwhile, other, done, bystander)
        try:
            burst = list(pool.map(lambda integration: _sync_once(lab, user, integration), integrations))
        finally:  # else the bystander's loop never ends, and neither does the pool it runs in
            done.set()
    lab.clear_faults()
    broken = [a.describe() for a in burst if a.status not in (200, 202)]
    require(not broken, f"a sync burst is queued: each answers 200 (or 202 while it waits), never an error: {broken}")
    others = [a.describe() for a in bystander if a.status != 200]
    # A starved pool shows as the service's 503 after DATABASE_POOL_TIMEOUT_S, not as a wall-clock limit
    # here: the machines are shared and noisy, so the latencies are reported, not judged.
    require(bool(bystander) and not others, f"another user's requests failed during the burst: {others[:5]}")
    unsynced = [
        integration
        for integration, tenant in zip(integrations, tenants, strict=True)
        if not _ends_synced(lab, integration, tenant)
    ]
    require(not unsynced, f"integrations not completely synced (or not logged so) after the burst: {unsynced}")
    latencies = [a.seconds for a in bystander]
    waited = sum(1 for a in burst if a.status == 202)
    return (
        f"{BURST} syncs at once, queued: {BURST - waited} answered 200, {waited} 202 then ended; none an error; "
        f"all {BURST} synced completely; the other user's {len(bystander)} requests all 200 "
        f"(median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms)"
    )


def _ends_synced(lab: FaultLab, integration: str, tenant: str) -> bool:
    """Whether the integration's queued sync ends with everything stored and logged (bounded wait)."""
    try:
        wait_for(f"sync {integration} to end", lambda: _synced_and_logged(lab, integration, tenant) or None)
    except CellFailed:
        return False
    return True


def _synced_and_logged(lab: FaultLab, integration: str, tenant: str) -> bool:
    logs = lab.sync_logs(integration)
    held = lab.sandbox_invoice_count(tenant)
    return (
        lab.stored_invoices(integration) == held
        and bool(logs)
        and logs[-1]["status"] == "success"
        and all(row["status"] != "running" for row in logs)
    )


CONCURRENT_SYNCS = Cell(
    "24 concurrent syncs of 24 integrations, while another user works",
    "no 5xx and no hang; every sync queued and run (200, or 202 and then ended); all 24 synced completely; "
    "the other user's requests all answered 200",
    ("INT-05", "INT-01"),
    concurrent_syncs,
)
DATABASE_RESTART = Cell(
    f"PostgreSQL stopped for {OUTAGE_S:.0f} s and restarted under a stream of creates and lists",
    "no request hung or lost its connection; every error a 5xx with a JSON body; the service answers again "
    "after the restart; the rows stored are exactly the creates answered 201",
    ("CQ-05",),
    database_restarted_under_load,
)
