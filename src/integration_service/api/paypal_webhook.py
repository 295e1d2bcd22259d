"""`POST /api/integrations/paypal/webhook`: PayPal's events, verified, confirmed, stored once, applied.

No API token: PayPal cannot send one; the signature is the authentication. Anything not verifiably
from PayPal for our webhook is a 400 and leaves no trace in the database. Each transmission
(PAYPAL-TRANSMISSION-ID) is accepted once: a reused one is a 409, whatever its body. An event that
changes a row is applied only once PayPal's API shows the event itself (its type and resource as the
body has them), and then as PayPal's API shows its resource (webhooks/paypal_confirm.py); one PayPal
does not confirm is a 422 and stores nothing. A redelivery of an applied event answers 200 with
`duplicate: true` and changes nothing; one of an event that changed nothing (`unmatched`, `ignored`)
is processed afresh, so a forged body stored under a genuine event's id cannot stop the genuine one.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from integration_service.api.dependencies import AppServices
from integration_service.api.errors import BadRequest, InvalidSignature, ServiceError, Unavailable, documented_errors
from integration_service.api.paypal_models import WebhookAck
from integration_service.providers.errors import ProviderError
from integration_service.providers.paypal import PayPal
from integration_service.settings import Settings
from integration_service.webhooks import paypal, paypal_confirm, paypal_events
from integration_service.webhooks.paypal_confirm import PayPalAccess

log = structlog.get_logger(__name__)
router = APIRouter()


class ReplayedTransmission(ServiceError):
    status_code, code = 409, "replayed_transmission"


class UnconfirmedEvent(ServiceError):
    status_code, code = 422, "unconfirmed_event"


def _verified(headers: dict[str, str], body: bytes, settings: Settings, access: PayPalAccess) -> paypal.Transmission:
    try:
        return paypal.verify(headers, body, settings, access.http)
    except paypal.SignatureRejected as exc:
        log.warning("paypal webhook rejected", reason=exc.reason)
        raise InvalidSignature(f"rejected: {exc.reason}") from None
    except paypal.VerificationUnavailable as exc:
        log.error("paypal webhook not verifiable", reason=str(exc))
        raise Unavailable(str(exc), headers={"Retry-After": "60"}) from None


def _confirmed(event: dict[str, Any], incoming: paypal_events.Incoming, access: PayPalAccess) -> Any:
    try:
        return paypal_confirm.confirm(event, incoming, access)
    except paypal_confirm.EventUnconfirmed as exc:
        log.warning("paypal webhook unconfirmed", event_type=incoming.event_type[:80], reason=exc.reason)
        raise UnconfirmedEvent(f"not applied: {exc.reason}") from None
    except ProviderError as exc:  # unavailable, or an answer we cannot read: PayPal redelivers later
        raise Unavailable(f"PayPal could not confirm the event: {exc.message}", headers={"Retry-After": "60"}) from None


def _process(headers: dict[str, str], body: bytes, settings: Settings, access: PayPalAccess) -> WebhookAck:
    started = time.monotonic()
    transmission = _verified(headers, body, settings, access)
    try:
        event: Any = json.loads(body)
        incoming = paypal_events.read(event)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the event body is not JSON") from None
    except paypal_events.EventMalformed as exc:
        raise BadRequest(f"the event could not be read: {exc}") from None
    replayed = f"PAYPAL-TRANSMISSION-ID {transmission.transmission_id[:80]} was already used: not applied again"
    with access.engine.connect() as connection:  # refused before PayPal is asked anything
        if paypal_events.transmission_used(connection, transmission.transmission_id):
            raise ReplayedTransmission(replayed)
        duplicate = paypal_events.handled_before(connection, incoming.event_id)
    # A redelivery of an applied event changes nothing: no need to ask PayPal about it again.
    confirmation = paypal_confirm.Confirmation(event, False) if duplicate else _confirmed(event, incoming, access)
    try:
        with access.engine.begin() as connection:
            paypal_events.claim_transmission(connection, transmission.transmission_id, incoming.event_id)
            handled = paypal_events.handle(connection, confirmation.event, started, confirmation.confirmed)
    except paypal_events.TransmissionReplayed:
        raise ReplayedTransmission(replayed) from None
    except paypal_events.EventMalformed as exc:
        raise BadRequest(f"the event could not be read: {exc}") from None
    log.info(
        "paypal webhook",
        event_id=incoming.event_id[:80],
        event_type=incoming.event_type[:80],
        transmission_id=transmission.transmission_id[:80],
        confirmed=confirmation.confirmed,
        outcome="duplicate" if handled.duplicate else handled.outcome,
    )
    return WebhookAck(duplicate=handled.duplicate, outcome=handled.outcome)


@router.post(
    "/webhook",
    operation_id="receivePayPalWebhook",
    summary="PayPal webhook events (signed by PayPal; no API token)",
    response_model=WebhookAck,
    response_model_exclude_none=True,
    responses=documented_errors(400, 409, 413, 422, 429, 503),
)
async def receive_paypal_webhook(request: Request, services: AppServices) -> WebhookAck:
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    access = PayPalAccess(services.engine, services.secret_box, services.provider(PayPal), services.http)
    # Certificate fetches, PayPal's API and the database are blocking: off the event loop.
    return await run_in_threadpool(_process, headers, body, services.settings, access)
