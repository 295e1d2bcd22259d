"""Checklist steps of issue 13's hardening: what an attacker of the payment webhooks and of a user-supplied
URL can and cannot do (PAYPAL-05, SEC-05, SEC-02), and events delivered in the adversarial order.

- PayPal signs a body only through its CRC32 (harness/webhook_forgery.py matches any CRC32), so a forger
  holding the headers of one transmission can post a body of their choosing under a genuine signature.
  The webhook must accept each transmission once, and apply what PayPal's API says, never the body.
- The certificate address is the forger's choice: a missing certificate must cost one fetch, not one per
  forged webhook, and an address that walks out of PayPal's certificate directory none at all. What the
  service fetched is read from the sandbox's request record.
- A BillionMail `baseUrl` naming an internal address, in any numeric spelling, is refused when it is
  given: a 422 naming the field, nothing stored, no connection attempted.
- Events are delivered newest first, each three times: the newest state stands and each event is new once.
"""

from __future__ import annotations

import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from harness.stack.webhook_forgery import crc32_forgery
from steps.common import World, describe, error_code
from steps.providers.paypal_integration import _paypal_merchant, paypal_paid_at_paypal
from steps.providers.stripe_integration import stripe_paid, stripe_subscribed
from steps.support.payments import (
    NAME,
    ObjectKind,
    OtherService,
    PaymentObjects,
    as_response,
    expect,
    need_sandbox_url,
)

TIMES = 3  # each event delivered this often: new once, then duplicates
CLOCK_STEP_S = 2  # moves the sandbox's clock between two changes, so their events are dated apart
PAYPAL_FORGERIES = (
    "a PAYMENT.SALE.REFUNDED of the whole sale",
    "a PAYMENT.SALE.DENIED of the sale",
    # Under the genuine event's own id: stored first, it must not make PayPal's real event a duplicate.
    "a PAYMENT.SALE.DENIED of the sale under the genuine event's id",
    "an event of a type the CRM does not use under the genuine event's id",
)
INTERNAL_ADDRESS = "local or private network address"


def _receiver(world: World, payments: PaymentObjects) -> OtherService:
    service: OtherService | None = payments.service
    assert service is not None, "this step needs the PayPal receiver service"
    assert service.paypal_webhook_id, "this service has no PayPal webhook of its own"
    return service


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _advance_sandbox_clock(world: World) -> None:
    expect(world.sandbox().post("/clock/advance", json={"seconds": CLOCK_STEP_S}), 200, "advancing the clock")


# --- PayPal: forged bodies under genuine signatures --------------------------------------------------------


@when(parsers.re(r"PayPal's (?P<event>[A-Z_.]+) delivery about the payment is intercepted in transit$"))
def paypal_intercepted(world: World, payments: PaymentObjects, event: str) -> None:
    """PayPal signs a fresh transmission for the webhook; a man in the middle keeps it from the service."""
    found = [
        item["id"]
        for item in world.sandbox().get("/paypal/events", params={"type": event}).json()
        if item["resource"].get("id") == payments.need("paypal_sale_id")
    ]
    assert len(found) == 1, f"expected one {event} event about the sale, found {found}"
    payments.event_id = found[0]
    answer = world.sandbox().post(
        "/paypal/webhooks/deliver",
        json={
            "endpoint_id": _receiver(world, payments).paypal_webhook_id,
            "event_ids": found,
            "variant": "intercepted",
            "retry": False,
        },
    )
    [attempt] = expect(answer, 200, "the sandbox signing a transmission")["attempts"]
    assert attempt["status_code"] is None, f"an intercepted transmission reached the service: {attempt}"


def _last_transmission(world: World, payments: PaymentObjects) -> tuple[dict[str, Any], dict[str, str]]:
    """The event of the scenario and the headers PayPal last signed it with for the receiver's webhook."""
    event_id = payments.need("event_id")
    [event] = [item for item in world.sandbox().get("/paypal/events").json() if item["id"] == event_id]
    attempts = world.sandbox().get(
        "/paypal/webhooks/deliveries",
        params={"endpoint_id": _receiver(world, payments).paypal_webhook_id, "event_id": event_id},
    )
    assert attempts.status_code == 200, describe(attempts)
    signed: list[dict[str, Any]] = attempts.json()
    assert signed, f"PayPal never signed {event_id} for the webhook"
    headers: dict[str, str] = signed[-1]["headers"]
    return event, headers


def _forged_event(forgery: str, genuine: dict[str, Any]) -> dict[str, Any]:
    sale = genuine["resource"]
    if forgery == PAYPAL_FORGERIES[0]:  # a refund PayPal never made, for the whole amount
        now = _now()
        refund = {
            "id": f"FORGED{uuid.uuid4().hex[:10].upper()}",
            "state": "completed",
            "amount": {"total": sale["amount"]["total"], "currency": sale["amount"]["currency"]},
            "sale_id": sale["id"],
            "parent_payment": sale["parent_payment"],
            "create_time": now,
            "update_time": now,
        }
        return {
            **genuine,
            "id": f"WH-FORGED-{uuid.uuid4().hex[:12]}",
            "event_type": "PAYMENT.SALE.REFUNDED",
            "resource_type": "refund",
            "resource": refund,
            "create_time": now,
        }
    assert forgery in PAYPAL_FORGERIES, f"unknown forgery {forgery!r} (known: {PAYPAL_FORGERIES})"
    event_id = genuine["id"] if forgery.endswith("the genuine event's id") else f"WH-FORGED-{uuid.uuid4().hex[:12]}"
    if forgery == PAYPAL_FORGERIES[3]:
        return {**genuine, "id": event_id, "event_type": "CUSTOMER.DISPUTE.CREATED"}
    denied = {**sale, "state": "denied", "amount": {"total": "1.00", "currency": sale["amount"]["currency"]}}
    return {**genuine, "id": event_id, "event_type": "PAYMENT.SALE.DENIED", "resource": denied}


@when(
    parsers.re(
        r"a forger posts (?P<forgery>.+) with the headers of PayPal's last transmission of that event, "
        r"its CRC32 matched to the genuine body$"
    )
)
def paypal_forger_posts(world: World, payments: PaymentObjects, forgery: str) -> None:
    genuine, headers = _last_transmission(world, payments)
    sent = json.dumps(genuine, separators=(",", ":")).encode()  # the bytes the sandbox signed and sent
    body = crc32_forgery(_forged_event(forgery, genuine), zlib.crc32(sent))
    world.response = world.client(base_url=_receiver(world, payments).url).post(
        "/api/integrations/paypal/webhook", content=body, headers={**headers, "Content-Type": "application/json"}
    )


# --- PayPal: the certificate address is the forger's choice ----------------------------------------------


def _cert_url(world: World, name: str) -> str:
    """An address under PayPal's certificate directory (the receiver's PAYPAL_CERT_URL_PREFIXES)."""
    return f"{need_sandbox_url(world.target)}/paypal/certs/{name}"


def _forged_headers(cert_url: str) -> dict[str, str]:
    return {
        "PAYPAL-TRANSMISSION-ID": str(uuid.uuid4()),
        "PAYPAL-TRANSMISSION-TIME": _now(),
        "PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk",
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


def _last_recorded_seq(world: World) -> int:
    recorded = world.sandbox().get("/requests", params={"provider": "paypal"}).json()
    return max((call["seq"] for call in recorded), default=0)


def _fetches_since(world: World, since: int, path: str) -> list[dict[str, Any]]:
    """The GETs of `path` PayPal's host (the sandbox) received after request number `since`."""
    recorded = world.sandbox().get("/requests", params={"provider": "paypal", "since_seq": since}).json()
    return [call for call in recorded if call["method"] == "GET" and call["path"] == path]


def _post_forged(world: World, payments: PaymentObjects, cert_url: str) -> httpx.Response:
    forged = {"id": f"WH-FORGED-{uuid.uuid4().hex[:12]}", "event_type": "PAYMENT.SALE.REFUNDED", "resource": {}}
    return world.client(base_url=_receiver(world, payments).url).post(
        "/api/integrations/paypal/webhook", json=forged, headers=_forged_headers(cert_url)
    )


@dataclass(frozen=True)
class ForgedCertificate:
    """Forged webhooks naming a certificate: where PayPal's host would serve it, the host's request number
    before they were sent, and the webhook's answers."""

    path: str
    since: int
    answers: list[httpx.Response]


@when(
    parsers.re(r"(?P<count>\d+) forged PayPal webhooks naming a certificate PayPal does not have reach it$"),
    target_fixture="forged_certificate",
)
def paypal_forged_flood(world: World, payments: PaymentObjects, count: str) -> ForgedCertificate:
    name = f"CERT-qa-missing-{uuid.uuid4().hex[:12]}.pem"
    since = _last_recorded_seq(world)
    path = httpx.URL(_cert_url(world, name)).path
    answers = [_post_forged(world, payments, _cert_url(world, name)) for _ in range(int(count))]
    return ForgedCertificate(path=path, since=since, answers=answers)


@then(parsers.re(r'every one is refused with status 400 as "(?P<code>\w+)"$'))
def paypal_each_refused(forged_certificate: ForgedCertificate, code: str) -> None:
    answers = forged_certificate.answers
    wrong = [describe(answer) for answer in answers if (answer.status_code, error_code(answer)) != (400, code)]
    assert not wrong, f"{len(wrong)} of {len(answers)} forged webhooks were not refused 400 {code}: {wrong[:2]}"


@then("PayPal's host was asked for that certificate exactly once")
def paypal_cert_fetched_once(world: World, forged_certificate: ForgedCertificate) -> None:
    path = forged_certificate.path
    fetches = _fetches_since(world, forged_certificate.since, path)
    # Once: the address passed the prefix check and was tried (so the flood tested the cache), then remembered.
    assert len(fetches) == 1, f"{len(fetches)} fetches of {path} for the forged webhooks"


@when(
    parsers.re(r'a forged PayPal webhook naming the certificate "(?P<name>[^"]+)" under PayPal\'s address reaches it$'),
    target_fixture="forged_certificate",
)
def paypal_forged_cert_name(world: World, payments: PaymentObjects, name: str) -> ForgedCertificate:
    url = _cert_url(world, name)
    since = _last_recorded_seq(world)
    path = httpx.URL(url).path  # where an HTTP client would take the name (dot-segments resolved)
    world.response = _post_forged(world, payments, url)
    return ForgedCertificate(path=path, since=since, answers=[world.response])


@then("the refusal says the address is not PayPal's certificate address, and nothing was fetched from it")
def paypal_cert_refused_unfetched(world: World, forged_certificate: ForgedCertificate) -> None:
    response = world.last_response()
    message = str((response.json().get("error") or {}).get("message"))
    assert "not a PayPal certificate address" in message, f"refused for another reason: {describe(response)}"
    fetches = _fetches_since(world, forged_certificate.since, forged_certificate.path)
    assert not fetches, f"the service fetched {forged_certificate.path} from PayPal's host: {fetches}"


# --- BillionMail: a baseUrl naming an internal address -------------------------------------------------


@when(parsers.re(rf'{NAME} connects BillionMail with its instance at "(?P<url>[^"]+)"$'))
def billionmail_connect_at(world: World, name: str, url: str) -> None:
    world.response = world.user(name).client.post(
        "/api/integrations",
        json={
            "integrationType": "BILLIONMAIL",
            "integrationName": f"billionmail-{uuid.uuid4().hex[:6]}",
            "apiKey": f"qa-{uuid.uuid4().hex}",
            "customData": {"baseUrl": url},
        },
    )


@then("it is refused at once with 422, naming customData.baseUrl as an internal address")
def billionmail_refused_at_once(world: World) -> None:
    response = world.last_response()
    # validation_failed: refused when given. connection_failed would mean the URL was accepted and a
    # connection to it attempted (however it then failed).
    assert (response.status_code, error_code(response)) == (422, "validation_failed"), describe(response)
    message = str(response.json()["error"].get("message"))
    assert "customData.baseUrl" in message, describe(response)
    assert INTERNAL_ADDRESS in message, describe(response)


@then(parsers.re(rf"{NAME} has no BillionMail integration$"))
def billionmail_none(world: World, name: str) -> None:
    listed = expect(world.user(name).client.get("/api/integrations"), 200, "the integrations")["integrations"]
    stored = [row for row in listed if row["integrationType"] == "BILLIONMAIL"]
    assert not stored, f"a refused BillionMail instance was stored: {stored}"


# --- events delivered newest first, each three times ---------------------------------------------------


@given(
    parsers.re(
        rf"{NAME} took a card payment of (?P<cents>\d+) cents through the service, then "
        r"(?P<first>\d+) and later the rest were refunded at Stripe$"
    )
)
def stripe_refunded_twice(world: World, payments: PaymentObjects, name: str, cents: str, first: str) -> None:
    stripe_paid(world, payments, name, cents, first)
    _advance_sandbox_clock(world)
    payments.stripe_account().merchant.v1.refunds.create(params={"charge": payments.need("stripe_charge_id")})


@given(parsers.re(rf"{NAME} subscribed a customer through the service, and later it was set to cancel at Stripe$"))
def stripe_subscribed_then_changed(world: World, payments: PaymentObjects, name: str) -> None:
    stripe_subscribed(world, payments, name, None)
    _advance_sandbox_clock(world)
    subscription = payments.need("stripe_subscription_id")
    payments.stripe_account().merchant.v1.subscriptions.update(subscription, params={"cancel_at_period_end": True})


@given(
    parsers.re(
        rf'{NAME} created a PayPal payment of "(?P<amount>[\d.]+)" USD, the buyer paid at PayPal, '
        r'and PayPal refunded "(?P<first>[\d.]+)" and later the rest$'
    )
)
def paypal_refunded_twice(world: World, payments: PaymentObjects, name: str, amount: str, first: str) -> None:
    paypal_paid_at_paypal(world, payments, name, amount, "the buyer approved it and paid")
    sale = payments.need("paypal_sale_id")
    for body in ({"amount": {"total": first, "currency": "USD"}}, {}):
        _advance_sandbox_clock(world)
        expect(_paypal_merchant(world, payments).post(f"/v1/payments/sale/{sale}/refund", json=body), 201, "a refund")


def _events_about(world: World, provider: str, object_id: str) -> list[str]:
    """The ids of every event the provider sent about the object, oldest first."""
    found = []
    for event in world.sandbox().get(f"/{provider}/events").json():
        about = event["data"]["object"] if provider == "stripe" else event["resource"]
        if object_id in (about.get("id"), about.get("sale_id")):
            found.append(event["id"])
    return found


@dataclass(frozen=True)
class ReorderedDeliveries:
    """The events about an object, oldest first, and the sandbox's attempts at delivering them newest first."""

    events: list[str]
    attempts: list[dict[str, Any]]


@when(
    parsers.re(
        r"(?P<provider>Stripe|PayPal) delivers every event about the (?P<record>payment|subscription) "
        r"newest first, each three times$"
    ),
    target_fixture="reordered_deliveries",
)
def deliver_newest_first(world: World, payments: PaymentObjects, provider: str, record: str) -> ReorderedDeliveries:
    key: ObjectKind
    if provider == "Stripe":
        key = "stripe_charge_id" if record == "payment" else "stripe_subscription_id"
        endpoint = payments.stripe_account().endpoint_id
    else:
        key = "paypal_sale_id" if record == "payment" else "paypal_subscription_id"
        endpoint = _receiver(world, payments).paypal_webhook_id
    events = _events_about(world, provider.lower(), payments.need(key))
    assert len(events) >= 2, f"{provider} sent {len(events)} event(s) about the {record}: nothing to reorder"
    delivered = world.sandbox().post(
        f"/{provider.lower()}/webhooks/deliver",
        json={"endpoint_id": endpoint, "event_ids": events, "times": TIMES, "order": "reversed", "retry": False},
    )
    attempts = expect(delivered, 200, f"{provider} delivering the events")["attempts"]
    return ReorderedDeliveries(events=events, attempts=attempts)


@then("each event was accepted as new once, then acknowledged as a duplicate")
def each_new_once(reordered_deliveries: ReorderedDeliveries) -> None:
    answers = [as_response(attempt) for attempt in reordered_deliveries.attempts]
    refused = [describe(answer) for answer in answers if answer.status_code != 200]
    assert not refused, f"deliveries were refused: {refused}"
    seen = [
        (attempt["event_id"], answer.json().get("duplicate"))
        for attempt, answer in zip(reordered_deliveries.attempts, answers, strict=True)
    ]
    expected = [(event, index > 0) for event in reversed(reordered_deliveries.events) for index in range(TIMES)]
    if seen != expected:
        pytest.fail(f"expected each event new once, newest first, then duplicates: {seen}")
