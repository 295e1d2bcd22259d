"""`POST /api/integrations/paypal/webhook`: PayPal's events, verified, stored once, applied.

No API token: PayPal cannot send one; the signature is the authentication. Anything not verifiably
from PayPal for our webhook is a 400 and leaves no trace in the database. A redelivery answers 200
with `duplicate: true` and changes nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from integration_service.api.errors import BadRequest, ServiceError, Unavailable, documented_errors
from integration_service.api.paypal_models import WebhookAck
from integration_service.settings import Settings
from integration_service.webhooks import paypal, paypal_events

log = structlog.get_logger(__name__)
router = APIRouter()


class InvalidSignature(ServiceError):
    status_code, code = 400, "invalid_signature"


def _process(
    headers: dict[str, str], body: bytes, settings: Settings, http: httpx.Client, engine: Engine
) -> WebhookAck:
    started = time.monotonic()
    try:
        transmission = paypal.verify(headers, body, settings, http)
    except paypal.SignatureRejected as exc:
        log.warning("paypal webhook rejected", reason=exc.reason)
        raise InvalidSignature(f"rejected: {exc.reason}") from None
    except paypal.VerificationUnavailable as exc:
        log.error("paypal webhook not verifiable", reason=str(exc))
        raise Unavailable(str(exc), headers={"Retry-After": "60"}) from None
    try:
        event: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the event body is not JSON") from None
    try:
        with engine.begin() as connection:
            handled = paypal_events.handle(connection, event, started)
    except paypal_events.EventMalformed as exc:
        raise BadRequest(f"the event could not be read: {exc}") from None
    log.info(
        "paypal webhook",
        event_id=str(event.get("id"))[:80],
        event_type=str(event.get("event_type"))[:80],
        transmission_id=transmission.transmission_id[:80],
        outcome="duplicate" if handled.duplicate else handled.outcome,
    )
    return WebhookAck(duplicate=handled.duplicate, outcome=handled.outcome)


@router.post(
    "/webhook",
    operation_id="receivePayPalWebhook",
    summary="PayPal webhook events (signed by PayPal; no API token)",
    response_model=WebhookAck,
    response_model_exclude_none=True,
    responses=documented_errors(400, 413, 429, 503),
)
async def receive_paypal_webhook(request: Request) -> WebhookAck:
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    state = request.app.state
    # Certificate fetches and the database are blocking: off the event loop.
    return await run_in_threadpool(_process, headers, body, state.settings, state.http, state.engine)
