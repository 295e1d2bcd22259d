"""PayPal's webhook deliveries to a copy of the service whose webhook gets only what a scenario delivers
(`paypal_receiver`), PayPal's sandbox and live modes (`paypal_live_service`, a copy in PAYPAL_MODE live), and
the copies themselves, started once per run when a scenario first needs them. Split from
steps/providers/paypal_integration.py (the REST app, payments, plans and subscriptions), whose helpers it uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from harness.core.database import create_database, drop_database
from harness.core.processes import free_port
from harness.core.tls import client_verify
from harness.gates.scenario_target import ScenarioTarget
from harness.gates.scenarios import LOCAL_SERVICE_ENV
from harness.ops.common import Target
from harness.ops.migrate import run_alembic
from harness.stack.local import sandbox_service_env, service_process
from steps.common import HTTP_TIMEOUT_S, World
from steps.providers.paypal_integration import _app_grants
from steps.support.payments import (
    NEVER_SENT,
    ObjectKind,
    OtherService,
    PaymentObjects,
    deliver_event,
    expect,
    need_sandbox_url,
)

PAYPAL_VARIANTS = {
    "without its signature": "missing_signature",
    "signed with a key that is not the one in PayPal's certificate": "wrong_secret",
    "signed by an impostor whose certificate is not at PayPal's address": "foreign_cert_url",
    "with its body changed after signing": "tampered_body",
    "signed an hour ago": "stale_timestamp",
}


# --- PayPal webhooks ---------------------------------------------------------------------------------------


def _receiver(world: World, payments: PaymentObjects) -> OtherService:
    service: OtherService | None = payments.service
    assert service is not None, "this step needs the PayPal receiver service"
    assert service.paypal_webhook_id, "this service has no PayPal webhook of its own"
    return service


def _paypal_event(world: World, payments: PaymentObjects, event_type: str, record: str) -> str:
    keys: tuple[ObjectKind, ...] = (
        ("paypal_sale_id", "paypal_payment_id") if record == "payment" else ("paypal_subscription_id",)
    )
    about = {str(payments.get(key)) for key in keys if payments.get(key)}
    found = [
        event["id"]
        for event in world.sandbox().get("/paypal/events", params={"type": event_type}).json()
        if about & {event["resource"].get(key) for key in ("id", "sale_id", "parent_payment")}
    ]
    assert len(found) == 1, f"expected one {event_type} event from PayPal about {sorted(about)}, found {found}"
    payments.event_id = found[0]
    return str(found[0])


@when(
    parsers.re(
        r"PayPal delivers its (?P<event>[A-Z_.]+) event about the (?P<record>payment|subscription) to the webhook$"
    )
)
def paypal_delivers(world: World, payments: PaymentObjects, event: str, record: str) -> None:
    deliver_event(
        world, "paypal", _receiver(world, payments).paypal_webhook_id, _paypal_event(world, payments, event, record)
    )


@when(parsers.re(r"PayPal delivers the same event (?:again|genuinely signed)$"))
def paypal_delivers_again(world: World, payments: PaymentObjects) -> None:
    deliver_event(world, "paypal", _receiver(world, payments).paypal_webhook_id, payments.need("event_id"))


@when(parsers.re(r"PayPal's (?P<event>[A-Z_.]+) event reaches the webhook (?P<how>.+)$"))
def paypal_delivers_forged(
    world: World, payments: PaymentObjects, event: str, how: str, request: pytest.FixtureRequest
) -> None:
    receiver = _receiver(world, payments)
    event_id = _paypal_event(world, payments, event, "payment")
    if how == "without any PayPal signature headers":
        [body] = [
            e for e in world.sandbox().get("/paypal/events", params={"type": event}).json() if e["id"] == event_id
        ]
        world.response = world.client(base_url=receiver.url).post("/api/integrations/paypal/webhook", json=body)
    elif how == "signed for another webhook":
        other = expect(
            world.sandbox().post(
                "/paypal/webhooks",
                json={"url": f"{receiver.url}/api/integrations/paypal/webhook", "enabled_events": [NEVER_SENT]},
            ),
            201,
            "another PayPal webhook",
        )
        control = world.sandbox()  # still open when this finaliser runs: the world is torn down after it
        request.addfinalizer(lambda: control.delete(f"/paypal/webhooks/{other['webhook_id']}"))
        deliver_event(world, "paypal", other["webhook_id"], event_id)
    else:
        assert how in PAYPAL_VARIANTS, f"unknown way to sign a PayPal event: {how!r}"
        deliver_event(world, "paypal", receiver.paypal_webhook_id, event_id, PAYPAL_VARIANTS[how])


# --- PayPal modes: sandbox and live --------------------------------------------------------------------------


def _calls_with_app_token(world: World, payments: PaymentObjects) -> list[tuple[str, str]]:
    """(method, path) of every PayPal API call the sandbox saw with an access token of the scenario's app."""
    hints = {token["hint"] for grant in _app_grants(world, payments) for token in grant["access_tokens"]}
    assert hints, "PayPal never issued the REST app a token: no token request reached it"
    seen = world.sandbox().get("/requests", params={"provider": "paypal"}).json()
    return [
        (call["method"], call["path"])
        for call in seen
        if call["headers"].get("authorization", "").removeprefix("Bearer ") in hints
    ]


def _expect_calls(world: World, payments: PaymentObjects, expected: list[tuple[str, str]]) -> None:
    calls = _calls_with_app_token(world, payments)
    missing = [call for call in expected if call not in calls]
    assert not missing, f"PayPal never received {missing} with the REST app's token; it received {calls}"


@then("PayPal's sandbox received the service's token request, payment and execution with the REST app's token")
def paypal_sandbox_calls(world: World, payments: PaymentObjects) -> None:
    payment = payments.need("paypal_payment_id")
    _expect_calls(
        world,
        payments,
        [("POST", "/paypal/v1/payments/payment"), ("POST", f"/paypal/v1/payments/payment/{payment}/execute")],
    )


@then("PayPal received the live-mode service's token request and payment with the REST app's token")
def paypal_live_calls(world: World, payments: PaymentObjects) -> None:
    _expect_calls(world, payments, [("POST", "/paypal/v1/payments/payment")])


# --- the other copies of the service, started once per run when a scenario first needs them ----------------


def _other_service(
    target: ScenarioTarget, env: dict[str, str], database_url: str, webhook_id: str, port: int
) -> Iterator[OtherService]:
    process = service_process(database_url, target.run_dir, port=port, env={**LOCAL_SERVICE_ENV, **env}).start()
    try:
        yield OtherService(process.url, database_url, webhook_id)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def paypal_receiver(target: ScenarioTarget) -> Iterator[OtherService]:
    """The service again, with a database of its own and a PayPal webhook that only gets what is delivered."""
    sandbox_url = need_sandbox_url(target)
    assert target.database_url is not None
    name = f"qa_paypal_receiver_{uuid.uuid4().hex[:8]}"
    database_url = create_database(target.database_url, name)
    port = free_port()
    registered = httpx.post(
        f"{sandbox_url}/_sandbox/paypal/webhooks",
        json={"url": f"http://127.0.0.1:{port}/api/integrations/paypal/webhook", "enabled_events": [NEVER_SENT]},
        timeout=HTTP_TIMEOUT_S,
        verify=client_verify(target.ca_bundle),
    )
    registered.raise_for_status()
    webhook_id = registered.json()["webhook_id"]
    try:
        run_alembic(Target(stage="local", database_url=database_url), "upgrade")
        env = {**sandbox_service_env(sandbox_url), "PAYPAL_WEBHOOK_ID": webhook_id}
        yield from _other_service(target, env, database_url, webhook_id, port)
    finally:
        httpx.delete(f"{sandbox_url}/_sandbox/paypal/webhooks/{webhook_id}", verify=client_verify(target.ca_bundle))
        drop_database(target.database_url, name)


@pytest.fixture(scope="session")
def paypal_live_service(target: ScenarioTarget) -> Iterator[OtherService]:
    """The service in PAYPAL_MODE=live on the stage's database: live base URL = the simulator, sandbox
    base URL = a port nothing listens on, so only a call to the live base URL can succeed."""
    sandbox_url = need_sandbox_url(target)
    assert target.database_url is not None
    env = {
        **sandbox_service_env(sandbox_url),
        "PAYPAL_MODE": "live",
        "PAYPAL_LIVE_BASE_URL": f"{sandbox_url}/paypal",
        "PAYPAL_SANDBOX_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "PAYPAL_WEBHOOK_ID": target.paypal_webhook_id or "WH-QA-LIVE",
    }
    yield from _other_service(target, env, target.database_url, "", free_port())


@given("a CRM whose PayPal webhook receives only the events PayPal is asked to deliver")
def paypal_use_receiver(world: World, payments: PaymentObjects, paypal_receiver: OtherService) -> None:
    payments.service = paypal_receiver


@given(
    "a copy of the service in PAYPAL_MODE live, whose live base URL is the PayPal simulator and whose sandbox "
    "base URL answers nothing"
)
def paypal_use_live_service(world: World, payments: PaymentObjects, paypal_live_service: OtherService) -> None:
    payments.service = paypal_live_service
