"""`invoke smoke`: the checklist's smoke and post-deploy checks against a running stage.

Health; Prometheus metrics; a sync of the stage's smoke integration; a Stripe webhook signed with the
stage's real endpoint secret (an event for a charge nobody has, deleted afterwards: self-cleaning);
the sync-log route; no failed sync in the last 15 minutes. A check without what it needs is reported
`skipped` with the setting to add, never `passed`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psycopg
from rich.table import Table

from harness.ops.common import OpsError, Target

SMOKE_USER = "ops-smoke"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # passed | failed | skipped
    detail: str


@dataclass
class SmokeResult:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.status != "failed" for check in self.checks)

    def failures(self) -> list[str]:
        return [f"{check.name}: {check.detail}" for check in self.checks if check.status == "failed"]


def smoke(target: Target) -> SmokeResult:
    if not target.service_url:
        raise OpsError(f"no service URL for stage {target.stage!r}: set SERVICE_URL (local: run `invoke deploy`)")
    target.say(f"Smoke tests against {target.service_url} (stage {target.stage})")
    result = SmokeResult()
    with httpx.Client(base_url=target.service_url, timeout=30) as client, smoke_token(target) as token:
        checks: list[tuple[str, Callable[[], tuple[str, str]]]] = [
            ("health", lambda: _health(client)),
            ("metrics", lambda: _metrics(client)),
            ("sync", lambda: _sync(client, target, token)),
            ("stripe webhook", lambda: _stripe_webhook(client, target)),
            ("sync logs route", lambda: _logs_route(client, token)),
            ("no recent failed syncs", lambda: _recent_failures(target)),
        ]
        for name, run in checks:
            try:
                status, detail = run()
            except (httpx.HTTPError, psycopg.Error, ValueError) as exc:
                status, detail = "failed", f"{type(exc).__name__}: {exc}"
            result.checks.append(Check(name, status, detail))
    show(target, result)
    return result


@contextmanager
def smoke_token(target: Target) -> Iterator[str | None]:
    """The stage's SMOKE_API_TOKEN. Locally, without one, a token for an `ops-smoke` user is issued for
    this run and deleted afterwards (with the user, if this run created it): smoke leaves no trace."""
    if target.smoke_api_token or target.stage != "local":
        yield target.smoke_api_token
        return
    from integration_service.security.api_tokens import issue_token_at

    label = f"invoke smoke {uuid.uuid4().hex}"
    with psycopg.connect(target.database_url, autocommit=True) as connection:
        existed = connection.execute("SELECT 1 FROM users WHERE name = %s", [SMOKE_USER]).fetchone() is not None
        try:
            yield issue_token_at(target.database_url, SMOKE_USER, label)
        finally:
            connection.execute("DELETE FROM api_tokens WHERE label = %s", [label])
            if not existed:
                connection.execute("DELETE FROM users WHERE name = %s", [SMOKE_USER])


def _health(client: httpx.Client) -> tuple[str, str]:
    answer = client.get("/api/health")
    ok = answer.status_code == 200 and answer.json().get("status") == "ok"
    return ("passed" if ok else "failed"), f"HTTP {answer.status_code} {answer.text[:200]}"


def _metrics(client: httpx.Client) -> tuple[str, str]:
    answer = client.get("/metrics")
    ok = answer.status_code == 200 and "integration_db_pool_in_use" in answer.text
    return ("passed" if ok else "failed"), f"HTTP {answer.status_code}"


def _sync(client: httpx.Client, target: Target, token: str | None) -> tuple[str, str]:
    if not (target.smoke_integration_id and token):
        return "skipped", "set SMOKE_INTEGRATION_ID (and SMOKE_API_TOKEN outside local) to sync a smoke integration"
    answer = client.post(
        "/api/integrations/sync",
        json={"integrationId": target.smoke_integration_id, "dataType": "invoices"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return ("passed" if answer.status_code == 200 else "failed"), f"HTTP {answer.status_code} {answer.text[:200]}"


def stripe_signature(payload: bytes, secret: str, at: int | None = None) -> str:
    """Stripe's scheme: `t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")`."""
    moment = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def _stripe_webhook(client: httpx.Client, target: Target) -> tuple[str, str]:
    if not target.stripe_webhook_secret:
        return "skipped", "set STRIPE_WEBHOOK_SECRETS for the stage to send a signed smoke event"
    event_id = f"evt_smoke_{uuid.uuid4().hex}"
    charge = {"id": f"ch_smoke_{uuid.uuid4().hex}", "object": "charge", "status": "succeeded", "amount": 0}
    event = {
        "id": event_id,
        "object": "event",
        "type": "charge.succeeded",
        "created": int(time.time()),
        "data": {"object": charge},
        "livemode": False,
    }
    payload = json.dumps(event).encode()
    try:
        answer = client.post(
            "/api/integrations/stripe/webhook",
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(payload, target.stripe_webhook_secret),
            },
        )
    finally:
        with psycopg.connect(target.database_url) as connection:  # self-cleaning, in every stage
            connection.execute("DELETE FROM webhook_events WHERE provider = 'stripe' AND event_id = %s", [event_id])
    ok = answer.status_code == 200 and answer.json().get("received") is True
    return ("passed" if ok else "failed"), f"HTTP {answer.status_code} {answer.text[:200]}"


def _logs_route(client: httpx.Client, token: str | None) -> tuple[str, str]:
    if token is None:
        return "skipped", "set SMOKE_API_TOKEN for the stage"
    answer = client.get("/api/integrations/logs", headers={"Authorization": f"Bearer {token}"})
    return ("passed" if answer.status_code == 200 else "failed"), f"HTTP {answer.status_code} {answer.text[:200]}"


def _recent_failures(target: Target) -> tuple[str, str]:
    with psycopg.connect(target.database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM integrations_sync_logs "
            "WHERE status = 'failed' AND created_at > now() - interval '15 minutes'"
        ).fetchone()
    failed = int(str(row[0])) if row else 0
    return ("passed" if failed == 0 else "failed"), f"{failed} failed sync(s) in the last 15 minutes"


def show(target: Target, result: SmokeResult) -> None:
    table = Table(title="Smoke tests")
    for column in ("check", "status", "detail"):
        table.add_column(column)
    colours = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for check in result.checks:
        table.add_row(check.name, f"[{colours[check.status]}]{check.status}[/]", check.detail[:120])
    target.console.print(table)
