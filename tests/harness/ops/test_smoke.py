"""smoke: the PayPal webhook check in each stage, and production smoke that writes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.core.processes import ServerProcess
from harness.ops import targets
from harness.ops.common import OpsError, Target
from harness.ops.deploy import sandbox_settings
from harness.ops.sandbox import PAYPAL_RECEIVER, ensure_paypal_webhook
from harness.ops.smoke import Check, SmokeResult, paypal_webhook, recent_failures, sync_check, waivers
from tests.fixtures.service import RunningService

SMOKE_ID = "3f2b8c1e-0000-4000-8000-000000000001"


def mock_client(handler: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.Client:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.Client(base_url="http://service.test", transport=httpx.MockTransport(record))


def webhook_rows(database_url: str, provider: str, event_id: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM webhook_events WHERE provider = %s AND event_id = %s", [provider, event_id]
        ).fetchone()
    assert row is not None
    return int(str(row[0]))


@pytest.mark.e2e  # a whole local stack
@pytest.mark.db
def test_locally_the_sandbox_signs_an_event_the_service_accepts_and_a_forgery_it_refuses(
    service: RunningService, sandbox: ServerProcess, database_url: str
) -> None:
    target = Target(stage="local", database_url=database_url, service_url=service.url, sandbox_url=sandbox.url)
    with httpx.Client(base_url=service.url, timeout=30) as client:
        status, detail = paypal_webhook(client, target)
    assert status == "passed", detail
    assert "signed by the sandbox" in detail
    assert "): HTTP 200" in detail
    assert "forged signature: HTTP 400" in detail
    event_id = re.search(r"event (WH-[A-Z0-9-]+) signed", detail)
    assert event_id is not None, detail
    # The service really received and stored it (the sandbox's delivery log says so), and smoke removed it.
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox/paypal", timeout=30) as control:
        attempts = control.get("/webhooks/deliveries", params={"event_id": event_id.group(1)}).json()
    assert {attempt["status_code"] for attempt in attempts} >= {200, 400}
    assert webhook_rows(database_url, "paypal", event_id.group(1)) == 0


@pytest.mark.parametrize("sandbox_url", [None, "http://127.0.0.1:9"], ids=["no stack file", "sandbox not running"])
def test_locally_without_a_sandbox_the_paypal_check_says_it_has_no_signer(sandbox_url: str | None) -> None:
    seen: list[httpx.Request] = []
    target = Target(stage="local", database_url="", service_url="http://service.test", sandbox_url=sandbox_url)
    with mock_client(lambda _: httpx.Response(500), seen) as client:
        status, detail = paypal_webhook(client, target)
    assert status == "skipped"
    assert detail.startswith("no PayPal signer for this stage")
    assert "invoke up" in detail
    assert seen == []  # nothing was sent: no pretend check


def test_locally_a_service_whose_webhook_the_sandbox_does_not_know_is_not_checked(sandbox: ServerProcess) -> None:
    target = Target(stage="local", database_url="", service_url="http://127.0.0.1:1", sandbox_url=sandbox.url)
    with httpx.Client(base_url="http://127.0.0.1:1") as client:
        status, detail = paypal_webhook(client, target)
    assert status == "skipped"
    assert "no PayPal signer for this stage" in detail
    assert f"no PayPal webhook for http://127.0.0.1:1{PAYPAL_RECEIVER}" in detail


@pytest.mark.db
@pytest.mark.parametrize("stage", ["staging", "production"])
def test_outside_local_an_unsigned_paypal_event_must_be_refused(
    service: RunningService, database_url: str, stage: str
) -> None:
    target = Target(stage=stage, database_url=database_url, service_url=service.url)  # type: ignore[arg-type]
    with httpx.Client(base_url=service.url, timeout=30) as client:
        status, detail = paypal_webhook(client, target)
    assert status == "passed", detail
    assert "an unsigned PayPal event was answered HTTP 400" in detail
    assert "refused, as it must be" in detail


@pytest.mark.db
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, json={"duplicate": False, "outcome": "unmatched"}), "must refuse an unsigned"),
        (httpx.Response(503, json={"detail": "not configured"}), "cannot verify PayPal webhooks"),
    ],
    ids=["accepted", "unverifiable"],
)
def test_outside_local_a_service_that_does_not_refuse_fails_the_check(
    database_url: str, answer: httpx.Response, expected: str
) -> None:
    seen: list[httpx.Request] = []
    target = Target(stage="production", database_url=database_url, service_url="http://service.test")
    with mock_client(lambda _: answer, seen) as client:
        status, detail = paypal_webhook(client, target)
    assert status == "failed"
    assert expected in detail
    [sent] = seen
    assert sent.url.path == PAYPAL_RECEIVER
    assert not any(name.lower().startswith("paypal-") for name in sent.headers)  # unsigned, really


def integration_answer(active: bool, status: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == f"/api/integrations/{SMOKE_ID}":
            return httpx.Response(200, json={"integration": {"id": SMOKE_ID, "isActive": active, "syncStatus": status}})
        return httpx.Response(200, json={"status": "success"})

    return answer


@pytest.mark.parametrize(
    ("active", "status", "verdict"), [(True, "IDLE", "passed"), (False, "IDLE", "failed"), (True, "ERROR", "failed")]
)
def test_production_smoke_reads_the_smoke_integration_instead_of_syncing_it(
    active: bool, status: str, verdict: str
) -> None:
    seen: list[httpx.Request] = []
    target = Target(stage="production", database_url="", smoke_integration_id=SMOKE_ID, smoke_api_token="tok")
    with mock_client(integration_answer(active, status), seen) as client:
        name, run = sync_check(client, target, "tok")
        result, detail = run()
    assert name == "smoke integration (read-only)"
    assert result == verdict
    assert "production smoke is read-only: no sync run" in detail
    assert [(request.method, request.url.path) for request in seen] == [("GET", f"/api/integrations/{SMOKE_ID}")]


def test_staging_smoke_still_runs_a_sync() -> None:
    seen: list[httpx.Request] = []
    target = Target(stage="staging", database_url="", smoke_integration_id=SMOKE_ID, smoke_api_token="tok")
    with mock_client(integration_answer(True, "IDLE"), seen) as client:
        name, run = sync_check(client, target, "tok")
        assert run()[0] == "passed"
    assert name == "sync"
    assert [(request.method, request.url.path) for request in seen] == [("POST", "/api/integrations/sync")]


def test_a_local_deploy_with_a_sandbox_registers_the_paypal_webhook_once(
    sandbox: ServerProcess, tmp_path: Path
) -> None:
    service_url = "http://127.0.0.1:65001"  # no need for it to run: the sandbox only records the address
    target = Target(stage="local", database_url="", sandbox_url=sandbox.url, state_dir=tmp_path)
    settings = sandbox_settings(target, service_url)
    assert settings["PAYPAL_CERT_URL_PREFIXES"] == f"{sandbox.url}/paypal/certs/"
    assert settings["PAYPAL_SANDBOX_BASE_URL"] == f"{sandbox.url}/paypal"
    assert settings["PAYPAL_WEBHOOK_ID"] == ensure_paypal_webhook(sandbox.url, service_url)  # reused, not a new one
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox/paypal", timeout=30) as control:
        endpoints = [e for e in control.get("/webhooks").json() if e["url"] == f"{service_url}{PAYPAL_RECEIVER}"]
        assert [e["id"] for e in endpoints] == [settings["PAYPAL_WEBHOOK_ID"]]
        control.delete(f"/webhooks/{settings['PAYPAL_WEBHOOK_ID']}").raise_for_status()
    assert sandbox_settings(Target(stage="local", database_url="", sandbox_url="http://127.0.0.1:9"), service_url) == {}


def test_the_local_stage_finds_the_sandbox_in_the_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "STACK_DIR", tmp_path)
    assert targets.local_stack_file() == {}  # no `invoke up`: no sandbox, and the PayPal check says so
    (tmp_path / "stack.json").write_text("{not json")
    assert targets.local_stack_file() == {}
    stack = {
        "service_url": "http://127.0.0.1:8000",
        "database_url": "postgresql://postgres@/integrations?host=/tmp/pg",
        "sandbox_url": "http://127.0.0.1:8001",
    }
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    assert targets.local_stack_file() == stack
    assert targets.same_database(stack["database_url"], "postgresql+psycopg://postgres@/integrations?host=/tmp/pg")
    assert not targets.same_database(stack["database_url"], "postgresql://postgres@/other?host=/tmp/pg")
    assert not targets.same_database(None, stack["database_url"])


def failed_sync(connection: psycopg.Connection[tuple[object, ...]], user_name: str) -> str:
    """A user's Xero integration whose sync just failed; its id."""
    user = connection.execute("INSERT INTO users (name) VALUES (%s) RETURNING id", [user_name]).fetchone()
    assert user is not None
    integration = connection.execute(
        "INSERT INTO integrations_credentials (user_id, integration_type, integration_name) "
        "VALUES (%s, 'XERO', 'books') RETURNING id",
        [user[0]],
    ).fetchone()
    assert integration is not None
    connection.execute(
        "INSERT INTO integrations_sync_logs (integration_id, user_id, integration_type, sync_type, status) "
        "VALUES (%s, %s, 'XERO', 'invoices', 'failed')",
        [integration[0], user[0]],
    )
    return str(integration[0])


@pytest.mark.db
def test_the_smoke_integrations_own_failed_syncs_do_not_fail_the_recent_failures_check(drill_database: str) -> None:
    with psycopg.connect(drill_database, autocommit=True) as connection:
        smoke_integration = failed_sync(connection, "smoke-user")  # a failed smoke sync, this run's or the last
    target = Target(stage="staging", database_url=drill_database, smoke_integration_id=smoke_integration)
    assert recent_failures(target) == (
        "passed",
        "0 failed sync(s) in the last 15 minutes (the smoke integration's own not counted)",
    )
    with psycopg.connect(drill_database, autocommit=True) as connection:
        failed_sync(connection, "customer")  # a customer's failure still fails the check
    assert recent_failures(target)[0] == "failed"
    assert recent_failures(Target(stage="staging", database_url=drill_database)) == (
        "failed",
        "2 failed sync(s) in the last 15 minutes",
    )


def test_a_skipped_check_fails_the_run_unless_waived_by_name() -> None:
    skipped = Check("sync", "skipped", "set SMOKE_INTEGRATION_ID")
    assert not SmokeResult([Check("health", "passed", "ok"), skipped]).passed
    waived = SmokeResult([Check("health", "passed", "ok"), Check("sync", "skipped", "no id", waived=True)])
    assert waived.passed
    assert waived.waived() == ["sync"]
    assert waivers(["stripe-webhook", "sync"]) == frozenset({"stripe webhook", "sync"})
    with pytest.raises(OpsError, match="--waive names no smoke check: snyc"):
        waivers(["snyc"])
