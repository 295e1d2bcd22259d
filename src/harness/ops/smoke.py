"""`invoke smoke`: the checklist's smoke and post-deploy checks against a running stage.

Health; Prometheus metrics; a sync of the stage's smoke integration; a Stripe webhook signed with the
stage's real endpoint secret (an event for a charge nobody has, deleted afterwards: self-cleaning);
a PayPal webhook verified the way the service verifies; the sync-log route; no failed sync in the
last 15 minutes (failures of the smoke integration itself excluded: the sync check judges those, and a
failed smoke sync must not fail every smoke of the next 15 minutes). A check without what it needs is
reported `skipped` with what to add, never `passed`; a skipped check fails the smoke run (and blocks a
release) unless it is waived by name (`--waive CHECK`), which the output and the release record show.

PayPal: only PayPal can sign PayPal's events. In the local stage the provider sandbox is PayPal: it
signs a fresh event (a sale nobody has) and delivers it to the service's registered webhook, which
must accept it, and a forged copy, which must be refused; the event's row is deleted afterwards.
Without a reachable sandbox the check says "no PayPal signer for this stage". In staging and
production nobody can forge PayPal's signature, so the check proves the other half, read-only: an
unsigned PayPal event is refused (HTTP 400/401).

Production smoke is read-only or self-cleaning: it does not run a sync (a sync writes a sync-log
row and calls the provider); it reads the smoke integration instead (`GET /api/integrations/{id}`:
reachable through the API, active, not in error). The webhook events it sends are deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psycopg
from rich.table import Table

from harness.ops.common import OpsError, Target
from harness.ops.sandbox import PAYPAL_RECEIVER, deliver, drain, new_paypal_event, paypal_endpoint_id, sandbox_answers

SMOKE_USER = "ops-smoke"


CHECK_NAMES = (
    "health",
    "metrics",
    "sync",
    "smoke integration (read-only)",
    "stripe webhook",
    "paypal webhook",
    "sync logs route",
    "no recent failed syncs",
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # passed | failed | skipped
    detail: str
    waived: bool = False  # skipped, and the operator accepted that (--waive)


@dataclass
class SmokeResult:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No check failed, and every skipped one was waived: a check that did not run proved nothing."""
        return not self.failures()

    def failures(self) -> list[str]:
        return [
            f"{check.name}: {check.detail}" if check.status == "failed" else f"{check.name}: skipped ({check.detail})"
            for check in self.checks
            if check.status == "failed" or (check.status == "skipped" and not check.waived)
        ]

    def waived(self) -> list[str]:
        return [check.name for check in self.checks if check.waived]

    def skipped(self) -> list[str]:
        return [f"{check.name}: {check.detail}" for check in self.checks if check.status == "skipped"]


def waivers(names: Sequence[str]) -> frozenset[str]:
    """The checks `--waive` names (spaces or dashes: `stripe-webhook`); an unknown name is refused up front."""
    chosen = {name.strip().replace("-", " ") for name in names if name.strip()}
    unknown = sorted(chosen - set(CHECK_NAMES))
    if unknown:
        raise OpsError(f"--waive names no smoke check: {', '.join(unknown)}; the checks are: {', '.join(CHECK_NAMES)}")
    return frozenset(chosen)


def smoke(target: Target, waive: Sequence[str] = ()) -> SmokeResult:
    waived = waivers(waive)
    if not target.service_url:
        raise OpsError(f"no service URL for stage {target.stage!r}: set SERVICE_URL (local: run `invoke deploy`)")
    target.say(f"Smoke tests against {target.service_url} (stage {target.stage})")
    result = SmokeResult()
    with (
        httpx.Client(base_url=target.service_url, timeout=30, verify=target.verify) as client,
        smoke_token(target) as token,
    ):
        checks: list[tuple[str, Callable[[], tuple[str, str]]]] = [
            ("health", lambda: _health(client)),
            ("metrics", lambda: _metrics(client)),
            sync_check(client, target, token),
            ("stripe webhook", lambda: _stripe_webhook(client, target)),
            ("paypal webhook", lambda: paypal_webhook(client, target)),
            ("sync logs route", lambda: _logs_route(client, token)),
            ("no recent failed syncs", lambda: recent_failures(target)),
        ]
        for name, run in checks:
            try:
                status, detail = run()
            except (httpx.HTTPError, psycopg.Error, ValueError, KeyError, OpsError) as exc:
                status, detail = "failed", f"{type(exc).__name__}: {exc}"
            result.checks.append(Check(name, status, detail, waived=status == "skipped" and name in waived))
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


def sync_check(client: httpx.Client, target: Target, token: str | None) -> tuple[str, Callable[[], tuple[str, str]]]:
    """A sync of the smoke integration; in production a read of it instead (read-only smoke)."""
    if target.stage == "production":
        return "smoke integration (read-only)", lambda: _read_integration(client, target, token)
    return "sync", lambda: _sync(client, target, token)


def _read_integration(client: httpx.Client, target: Target, token: str | None) -> tuple[str, str]:
    if not (target.smoke_integration_id and token):
        return "skipped", "set SMOKE_INTEGRATION_ID and SMOKE_API_TOKEN to read the smoke integration"
    answer = client.get(
        f"/api/integrations/{target.smoke_integration_id}", headers={"Authorization": f"Bearer {token}"}
    )
    if answer.status_code != 200:
        return "failed", f"HTTP {answer.status_code} {answer.text[:200]}"
    integration = answer.json()["integration"]
    state = f"isActive={integration['isActive']}, syncStatus={integration['syncStatus']}"
    ok = integration["isActive"] and str(integration["syncStatus"]).upper() != "ERROR"
    note = "production smoke is read-only: no sync run (it would write a sync-log row)"
    return ("passed" if ok else "failed"), f"{state}; {note}"


def _sync(client: httpx.Client, target: Target, token: str | None) -> tuple[str, str]:
    if not (target.smoke_integration_id and token):
        return "skipped", "set SMOKE_INTEGRATION_ID (and SMOKE_API_TOKEN outside local) to sync a smoke integration"
    answer = client.post(
        "/api/integrations/sync",
        json={"integrationId": target.smoke_integration_id, "dataType": "invoices"},
        headers={"Authorization": f"Bearer {token}"},
    )
    detail = f"HTTP {answer.status_code} {answer.text[:200]}"
    if answer.status_code == 200:
        return "passed", detail
    if answer.status_code in (502, 503, 504):
        return "failed", f"the service could not sync with its provider, {_providers(target)}: {detail}"
    return "failed", detail


def _providers(target: Target) -> str:
    if not target.sandbox_url:
        return "the provider's own API (no SANDBOX_URL)"
    state = "answers" if sandbox_answers(target.sandbox_url) else "does not answer"
    return f"the provider sandbox at {target.sandbox_url}, which {state}"


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
        _delete_event(target, "stripe", event_id)  # self-cleaning, in every stage
    ok = answer.status_code == 200 and answer.json().get("received") is True
    return ("passed" if ok else "failed"), f"HTTP {answer.status_code} {answer.text[:200]}"


def paypal_webhook(client: httpx.Client, target: Target) -> tuple[str, str]:
    if target.stage != "local":
        return _paypal_refuses_unsigned(client, target)
    if not sandbox_answers(target.sandbox_url, target.verify):
        where = target.sandbox_url or "none in .stack/stack.json"
        return "skipped", (
            f"no PayPal signer for this stage: no provider sandbox answers (sandbox: {where}); "
            "start the local stack with `invoke up`, then `invoke deploy`"
        )
    assert target.sandbox_url is not None
    assert target.service_url is not None
    receiver = f"{target.service_url}{PAYPAL_RECEIVER}"
    with httpx.Client(base_url=target.sandbox_url, timeout=30, verify=target.verify) as sandbox:
        endpoint = paypal_endpoint_id(sandbox, receiver)
        if endpoint is None:
            return "skipped", (
                f"no PayPal signer for this stage: the sandbox at {target.sandbox_url} has no PayPal webhook "
                f"for {receiver} (`invoke deploy` registers one)"
            )
        event_id = new_paypal_event(sandbox)
        try:
            genuine = deliver(sandbox, endpoint, event_id, "valid")
            forged = deliver(sandbox, endpoint, event_id, "wrong_secret")
        finally:
            drain(sandbox)  # the sandbox's own background delivery of the event, before the clean-up
            _delete_event(target, "paypal", event_id)
    ok = genuine.status_code == 200 and forged.status_code == 400
    return ("passed" if ok else "failed"), (
        f"event {event_id} signed by the sandbox (webhook {endpoint}): {genuine.describe()}; "
        f"the same event with a forged signature: {forged.describe()}"
    )


def _paypal_refuses_unsigned(client: httpx.Client, target: Target) -> tuple[str, str]:
    """PayPal's real events cannot be forged: prove the other half, that an unsigned one is refused."""
    event_id = f"WH-SMOKE-{uuid.uuid4().hex.upper()}"
    event = {
        "id": event_id,
        "event_version": "1.0",
        "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "event_type": "PAYMENT.SALE.COMPLETED",
        "resource_type": "sale",
        "resource": {"id": f"SMOKE{uuid.uuid4().hex[:12].upper()}", "state": "completed"},
    }
    try:
        answer = client.post(PAYPAL_RECEIVER, json=event)
    finally:
        if target.database_url:  # nothing should have been stored; if it was, it does not stay
            _delete_event(target, "paypal", event_id)
    detail = f"an unsigned PayPal event was answered HTTP {answer.status_code} {answer.text[:160]}"
    if answer.status_code in (400, 401):
        return "passed", f"{detail}: refused, as it must be (PayPal's own events cannot be forged to test more)"
    if answer.status_code == 503:
        return "failed", f"{detail}: the service cannot verify PayPal webhooks (is PAYPAL_WEBHOOK_ID set?)"
    return "failed", f"{detail}: the service must refuse an unsigned PayPal webhook"


def _delete_event(target: Target, provider: str, event_id: str) -> None:
    with psycopg.connect(target.database_url) as connection:
        connection.execute("DELETE FROM webhook_events WHERE provider = %s AND event_id = %s", [provider, event_id])


def _logs_route(client: httpx.Client, token: str | None) -> tuple[str, str]:
    if token is None:
        return "skipped", "set SMOKE_API_TOKEN for the stage"
    answer = client.get("/api/integrations/logs", headers={"Authorization": f"Bearer {token}"})
    return ("passed" if answer.status_code == 200 else "failed"), f"HTTP {answer.status_code} {answer.text[:200]}"


def recent_failures(target: Target) -> tuple[str, str]:
    """Failed syncs of the last 15 minutes, the smoke integration's own left out (the sync check judges them)."""
    with psycopg.connect(target.database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM integrations_sync_logs WHERE status = 'failed' "
            "AND created_at > now() - interval '15 minutes' AND integration_id::text IS DISTINCT FROM %s",
            [target.smoke_integration_id],
        ).fetchone()
    failed = int(str(row[0])) if row else 0
    mine = " (the smoke integration's own not counted)" if target.smoke_integration_id else ""
    return ("passed" if failed == 0 else "failed"), f"{failed} failed sync(s) in the last 15 minutes{mine}"


def show(target: Target, result: SmokeResult) -> None:
    table = Table(title="Smoke tests")
    for column in ("check", "status", "detail"):
        table.add_column(column)
    colours = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for check in result.checks:
        status = f"[{colours[check.status]}]{check.status}[/]" + (" (waived)" if check.waived else "")
        table.add_row(check.name, status, check.detail[:120])
    target.console.print(table)
    if result.waived():
        target.say(f"[yellow]Waived[/] (skipped, accepted with --waive): {', '.join(result.waived())}")
    blocking = [check.name for check in result.checks if check.status == "skipped" and not check.waived]
    if blocking:
        target.say(f"[red]Not run, not waived[/]: {', '.join(blocking)} (provide what they need, or --waive them)")
