"""Steps of the smoke tests (`harness.ops.smoke`) against a scratch stage, with a user, a Xero organisation
and a PayPal sale of its own, and of the read-only post-deployment checks against the stage itself.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from pytest_bdd import given, parsers, then, when

from harness.ops.monitor import DAILY_CHECKS, RULES, evaluate
from harness.ops.sandbox import PAYPAL_RECEIVER, paypal_endpoint_id
from harness.ops.smoke import SmokeResult, smoke
from harness.stack.oauth import connect_via_oauth
from harness.stack.tokens import issue_token_on
from steps.common import World, connect_account, describe
from steps.operations.monitoring import monitor_result
from steps.operations.staging_procedures import connect_sandbox_paypal, live_target
from steps.support.lab import OpsLab, seed_integration, seed_log, stage_target

# --- smoke tests on scratch stages --------------------------------------------------------------------


def scratch_user(world: World, ops: OpsLab, name: str) -> httpx.Client:
    """A user of the scratch stage with an API token; the client calls the scratch stage's service."""
    clients: dict[str, httpx.Client] = ops.names.setdefault("clients", {})
    if name not in clients:
        target = ops.current()
        token = issue_token_on(target.database_url, "local", f"{name.lower()}-{uuid.uuid4().hex[:8]}", "ops scenario")
        ops.facts.tokens[name] = token
        clients[name] = world.client(base_url=target.service_url, headers={"Authorization": f"Bearer {token}"})
    return clients[name]


def small_xero_organisation(world: World, invoices: int) -> str:
    created = world.sandbox().post(
        "/tenants",
        json={"provider": "xero", "invoices": invoices, "contacts": 2, "name": f"ops-{uuid.uuid4().hex[:8]}"},
    )
    assert created.status_code == 201, f"creating a Xero organisation in the sandbox: {describe(created)}"
    tenant: str = created.json()["tenant_id"]
    return tenant


@given(parsers.parse('"{name}" on the scratch stage has connected a Xero organisation of {invoices:d} invoices'))
def scratch_xero(world: World, ops: OpsLab, name: str, invoices: int) -> None:
    api = scratch_user(world, ops, name)
    tenant = small_xero_organisation(world, invoices)
    integration = connect_via_oauth(api, world.client(base_url=""), "xero", tenant)
    ops.facts.xero_integration = integration["id"]


@when("the smoke tests run against the scratch stage with Sam's token and Xero integration")
def smoke_with_integration(ops: OpsLab) -> None:
    target = ops.current()
    target.smoke_api_token = ops.facts.tokens["Sam"]
    target.smoke_integration_id = ops.facts.xero_integration
    ops.facts.smoke = smoke(target)


@when("the smoke tests run against the scratch stage")
def smoke_scratch(ops: OpsLab) -> None:
    ops.facts.smoke = smoke(ops.current())


def smoke_checks(ops: OpsLab) -> dict[str, tuple[str, str]]:
    result: SmokeResult = ops.facts.smoke
    return {check.name: (check.status, check.detail) for check in result.checks}


@then(parsers.parse("every smoke check passed: {names}"))
def smoke_passed(ops: OpsLab, names: str) -> None:
    checks = smoke_checks(ops)
    wanted = [name.strip() for name in names.split(",")]
    not_passed = {name: checks.get(name, ("absent", "")) for name in wanted if checks.get(name, ("",))[0] != "passed"}
    assert not_passed == {}, f"smoke checks that did not pass: {not_passed}"


@then(parsers.parse('the smoke check "{name}" failed, reporting "{detail}"'))
def smoke_failed(ops: OpsLab, name: str, detail: str) -> None:
    status, shown = smoke_checks(ops).get(name, ("absent", ""))
    assert status == "failed", f"expected {name!r} to fail: {status}, {shown!r}"
    assert detail in shown, f"expected {name!r} to report {detail!r}: {shown!r}"
    assert not ops.facts.smoke.passed, "the smoke run as a whole passed despite a failed check"


@then(parsers.parse('the smoke checks "{first}" and "{second}" still passed'))
def smoke_still_passed(ops: OpsLab, first: str, second: str) -> None:
    smoke_passed(ops, f"{first}, {second}")


@then(parsers.parse("Sam's {invoices:d} Xero invoices are stored on the scratch stage"))
def scratch_invoices_stored(ops: OpsLab, invoices: int) -> None:
    with ops.sql() as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [ops.facts.xero_integration],
        ).fetchone()
    assert row == (invoices, invoices), f"expected {invoices} distinct invoices stored, got (rows, distinct) {row}"


def pay_and_deliver(world: World, api: httpx.Client, amount: str, endpoint_id: str) -> tuple[str, list[Any]]:
    """A buyer pays `api`'s user through a PayPal integration of their own; PayPal's (the sandbox's) signed
    PAYMENT.SALE.COMPLETED for the sale is delivered to the webhook `endpoint_id`: (event id, attempts)."""
    integration_id = connect_sandbox_paypal(api)
    payment = api.post(
        "/api/integrations/paypal/payments",
        json={
            "integrationId": integration_id,
            "amount": amount,
            "currency": "USD",
            "returnUrl": "https://crm.example/paypal/return",
            "cancelUrl": "https://crm.example/paypal/cancel",
        },
    )
    assert payment.status_code == 201, f"creating a PayPal payment: {describe(payment)}"
    approval = world.client(base_url="").get(payment.json()["approvalUrl"])
    assert approval.status_code == 302, f"the buyer's approval: {approval.status_code} {approval.text[:300]}"
    payer = parse_qs(urlsplit(approval.headers["location"]).query)["PayerID"][0]
    payment_id = payment.json()["payment"]["paypalPaymentId"]
    executed = api.post(
        f"/api/integrations/paypal/payments/{payment_id}/execute",
        json={"integrationId": integration_id, "payerId": payer},
    )
    assert executed.status_code == 200, f"executing the PayPal payment: {describe(executed)}"
    control = world.sandbox()
    events = [
        event
        for event in control.get("/paypal/events").json()
        if event["event_type"] == "PAYMENT.SALE.COMPLETED" and event["resource"].get("parent_payment") == payment_id
    ]
    assert len(events) == 1, f"expected PayPal to emit one PAYMENT.SALE.COMPLETED for {payment_id}, got {events}"
    delivered = control.post(
        "/paypal/webhooks/deliver", json={"endpoint_id": endpoint_id, "event_ids": [events[0]["id"]]}
    )
    assert delivered.status_code == 200, f"delivering the PayPal webhook: {describe(delivered)}"
    return str(events[0]["id"]), list(delivered.json()["attempts"])


@when(
    parsers.parse(
        'a buyer pays "{name}" {amount} USD through PayPal and PayPal\'s signed webhook for the sale is delivered'
    )
)
def paypal_sale_delivered(world: World, ops: OpsLab, name: str, amount: str) -> None:
    api = scratch_user(world, ops, name)
    event, attempts = pay_and_deliver(world, api, amount, ops.facts.paypal_webhook_id)
    ops.facts.paypal_event, ops.facts.paypal_attempts = event, attempts


def paypal_event_recorded(ops: OpsLab, database_url: str, event_type: str) -> None:
    attempts = ops.facts.paypal_attempts
    assert [attempt["status_code"] for attempt in attempts] == [200], f"the service answered PayPal: {attempts}"
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT event_type, outcome FROM webhook_events WHERE provider = 'paypal' AND event_id = %s",
            [ops.facts.paypal_event],
        ).fetchone()
    assert row is not None, f"the {event_type} event PayPal delivered was not recorded"
    # Execute already stored the completed sale, so the event may find nothing newer to apply ("ignored").
    assert row[0] == event_type, f"expected the {event_type} event recorded, got {row}"
    assert row[1] in ("applied", "ignored"), f"expected the verified event matched to the sale, got {row}"


@then(parsers.parse('the scratch stage verified and recorded PayPal\'s "{event_type}" event for the sale'))
def paypal_event_applied(ops: OpsLab, event_type: str) -> None:
    paypal_event_recorded(ops, ops.current().database_url, event_type)


@when("a sync on the scratch stage fails")
def scratch_sync_fails(ops: OpsLab) -> None:
    with ops.sql() as connection:
        seed_log(connection, seed_integration(connection, ops, "failing-books", "XERO"), "failed", error="HTTP 503")


# --- post-deployment verification of the stage itself (read-only) -------------------------------------


@when("the post-deployment checks run against the stage")
def post_deployment_checks(world: World, ops: OpsLab) -> None:
    target = stage_target(world)  # no token and no webhook secret: nothing is written to the stage
    ops.facts.smoke = smoke(target)
    ops.facts.monitor = evaluate(target)


@then(parsers.parse('the post-deployment checks "{first}" and "{second}" passed'))
def post_deployment_passed(ops: OpsLab, first: str, second: str) -> None:
    smoke_passed(ops, f"{first}, {second}")


@then("the daily checks and every alert rule were evaluated on the stage's database")
def stage_monitor_read(ops: OpsLab) -> None:
    result = monitor_result(ops)
    assert sorted(result.daily) == sorted(DAILY_CHECKS), f"daily checks answered: {sorted(result.daily)}"
    assert [alert.rule for alert in result.alerts] == list(RULES), f"rules evaluated: {[a.rule for a in result.alerts]}"
    # The checklist's seven rules, and the stuck-sync rule the service's crash sweep added (issue 13 #4).
    assert len(RULES) == 8, f"the checklist's seven alert rules and sync_stuck_running; the monitor has {len(RULES)}"


# --- smoke tests against the deployed stage, with a user, a Xero organisation and a PayPal sale of its own ---


@given(parsers.parse('"{name}" has connected a Xero organisation of {invoices:d} invoices on the stage'))
def stage_xero(world: World, ops: OpsLab, name: str, invoices: int) -> None:
    tenant = small_xero_organisation(world, invoices)
    ops.facts.xero_integration = connect_account(world, world.user(name), "xero", tenant)["id"]


@when(parsers.parse("the smoke tests run against the stage with {name}'s token and Xero integration"))
def smoke_stage_with_integration(world: World, ops: OpsLab, name: str) -> None:
    target = live_target(world, ops)
    target.smoke_api_token = world.user(name).token
    target.smoke_integration_id = ops.facts.xero_integration
    ops.facts.smoke = smoke(target)


@when(parsers.parse("the smoke tests run against the stage with {name}'s token"))
def smoke_stage_with_token(world: World, ops: OpsLab, name: str) -> None:
    target = live_target(world, ops)
    target.smoke_api_token = world.user(name).token
    ops.facts.smoke = smoke(target)


@then(parsers.parse("{name}'s {invoices:d} Xero invoices are stored on the stage"))
def stage_invoices_stored(world: World, ops: OpsLab, name: str, invoices: int) -> None:
    with psycopg.connect(live_target(world, ops).database_url) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [ops.facts.xero_integration],
        ).fetchone()
    assert row == (invoices, invoices), f"expected {name}'s {invoices} invoices stored once, got (rows, distinct) {row}"


@when(
    parsers.parse(
        'a buyer pays "{name}" {amount} USD through PayPal and PayPal\'s signed webhook for the sale is delivered '
        "to the stage"
    )
)
def stage_paypal_sale(world: World, ops: OpsLab, name: str, amount: str) -> None:
    receiver = f"{world.target.service_url}{PAYPAL_RECEIVER}"
    endpoint = paypal_endpoint_id(world.client(base_url=world.sandbox_url()), receiver)
    assert endpoint is not None, f"PayPal (the sandbox) has no webhook registered for the stage's {receiver}"
    event, attempts = pay_and_deliver(world, world.user(name).client, amount, endpoint)
    ops.facts.paypal_event, ops.facts.paypal_attempts = event, attempts


@then(parsers.parse('the stage verified and recorded PayPal\'s "{event_type}" event for the sale'))
def stage_paypal_recorded(world: World, ops: OpsLab, event_type: str) -> None:
    paypal_event_recorded(ops, live_target(world, ops).database_url, event_type)
