"""Stripe: payment intents, subscriptions and refunds on a user's STRIPE integration, and the webhook.

Actions store what Stripe answered straight away (upsert on the Stripe id); webhooks then keep the
rows true. A client may send an `Idempotency-Key`, passed on to Stripe so a retried request never
charges twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import stripe
import structlog
from fastapi import APIRouter, Header, Query, Request, status
from pydantic import Field, model_validator
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from integration_service.api.dependencies import AppServices
from integration_service.api.errors import (
    BadRequest,
    ErrorResponse,
    InvalidSignature,
    ServiceError,
    documented_errors,
)
from integration_service.api.models import JSON_INTEGER, ApiModel, InputModel
from integration_service.api.owned import CallersIntegrations, Owned, OwnedIntegration
from integration_service.api.provider_errors import ACTIONS, STRIPE, as_service_error, reported_as
from integration_service.api.services import Services
from integration_service.providers.stripe import Stripe, as_provider_error, charge_row, subscription_row
from integration_service.sync.upsert import upsert_rows
from integration_service.webhooks import store
from integration_service.webhooks import stripe as stripe_webhooks
from integration_service.webhooks.stripe_events import EventMalformed, request_body

router = APIRouter(prefix="/api/integrations/stripe", tags=["stripe"])
log = structlog.get_logger(__name__)

StripeId = Annotated[str, Field(min_length=4, max_length=255, pattern=r"^[A-Za-z0-9_]+$")]
Currency = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="ISO 4217, lower case (e.g. usd)")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


class StripeAction(InputModel):
    integration_id: uuid.UUID


class PaymentIntentCreate(StripeAction):
    amount: Annotated[int, Field(gt=0, le=99_999_999), JSON_INTEGER] = Field(
        description="In the currency's minor unit (cents)"
    )
    currency: Currency
    customer: StripeId | None = None
    payment_method: StripeId | None = Field(default=None, description="e.g. pm_card_visa; confirms at once")
    description: str | None = Field(default=None, max_length=500)


class SubscriptionCreate(StripeAction):
    customer: StripeId
    price: StripeId


class RefundCreate(StripeAction):
    charge: StripeId | None = None
    payment_intent: StripeId | None = None
    amount: Annotated[int, Field(gt=0, le=99_999_999), JSON_INTEGER] | None = Field(
        default=None, description="Omit for a full refund"
    )

    @model_validator(mode="after")
    def _one_target(self) -> RefundCreate:
        if (self.charge is None) == (self.payment_intent is None):
            raise ValueError("name exactly one of charge or paymentIntent")
        return self


class Payment(ApiModel):
    stripe_charge_id: str
    payment_intent_id: str | None
    customer_id: str | None
    amount: int | None
    amount_refunded: int
    currency: str | None
    status: str | None
    refunded: bool
    failure_code: str | None
    failure_message: str | None


class Subscription(ApiModel):
    stripe_subscription_id: str
    customer_id: str | None
    price_id: str | None
    status: str | None
    cancel_at_period_end: bool | None


class PaymentIntentResult(ApiModel):
    payment_intent_id: str
    status: str
    payment: Payment | None = Field(description="The charge it made, when it was confirmed")


class PaymentResult(ApiModel):
    payment: Payment


class SubscriptionResult(ApiModel):
    subscription: Subscription


class WebhookReceipt(ApiModel):
    received: bool
    duplicate: bool
    outcome: str


class PaymentDeclined(ServiceError):
    status_code, code = 402, "payment_declined"


class IdempotencyKeyReused(ServiceError):
    """The client's Idempotency-Key went with other parameters before: the request conflicts with that one."""

    status_code, code = 409, "idempotency_key_reused"


@dataclass
class StripeAccount:
    """The caller's STRIPE integration, an SDK client for it, and where its rows go."""

    owned: Owned[Stripe]
    client: stripe.StripeClient
    services: Services

    def store(self, data_type: str, values: dict[str, Any]) -> None:
        records = self.owned.provider.record_sets()[data_type]
        row = {**values, "integration_id": self.owned.linked.integration_id, "user_id": self.owned.linked.user_id}
        with self.services.engine.begin() as connection:
            upsert_rows(connection, records, [row], self.services.settings.sync_page_batch_size)


def _account(integrations: CallersIntegrations, integration_id: uuid.UUID) -> StripeAccount:
    """The caller's STRIPE integration, ready to call Stripe."""
    owned = integrations.active(integration_id, Stripe)
    with reported_as(ACTIONS):  # no API key stored: a 409, as for every action
        client: stripe.StripeClient = integrations.services.sync_engine.api_for(owned.provider, owned.linked)
    return StripeAccount(owned, client, integrations.services)


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Stripe's refusals as the API's errors: a decline is 402, the rest as provider_errors.py's STRIPE says."""
    try:
        yield
    except stripe.CardError as exc:
        raise PaymentDeclined(f"stripe declined the payment: {exc.user_message or exc.code}") from None
    except stripe.IdempotencyError:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was sent before with other parameters; send a new key for a new request"
        ) from None
    except stripe.StripeError as exc:
        raise as_service_error(as_provider_error(exc), STRIPE) from None


def _options(idempotency_key: str | None) -> stripe.RequestOptions:
    return {} if idempotency_key is None else {"idempotency_key": idempotency_key}


ACTION_ERRORS = {
    402: {"model": ErrorResponse, "description": "The card was declined"},
    502: {"model": ErrorResponse, "description": "Stripe failed or refused the API key"},
    **documented_errors(400, 401, 404, 409, 413, 422, 429),
}


@router.post(
    "/payment-intents",
    operation_id="createStripePaymentIntent",
    summary="Create a PaymentIntent (confirmed at once when a payment method is given)",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentIntentResult,
    responses=ACTION_ERRORS,
)
def create_payment_intent(
    payload: PaymentIntentCreate, integrations: OwnedIntegration, idempotency_key: IdempotencyKey = None
) -> PaymentIntentResult:
    account = _account(integrations, payload.integration_id)
    params: Any = {"amount": payload.amount, "currency": payload.currency, "expand": ["latest_charge"]}
    for name in ("customer", "description"):
        if getattr(payload, name) is not None:
            params[name] = getattr(payload, name)
    if payload.payment_method is not None:
        params.update(payment_method=payload.payment_method, confirm=True)
    with stripe_errors():
        try:
            intent = account.client.v1.payment_intents.create(params=params, options=_options(idempotency_key))
        except stripe.CardError as declined:
            # A decline still leaves a failed charge at Stripe: keep it, as the payment history would.
            charge_id = getattr(declined.error, "charge", None)
            if charge_id:
                account.store("payments", charge_row(account.client.v1.charges.retrieve(charge_id).to_dict()))
            raise
    charge = intent.to_dict().get("latest_charge")
    payment = None
    if isinstance(charge, dict):
        values = charge_row(charge)
        account.store("payments", values)
        payment = Payment.model_validate(values)
    return PaymentIntentResult(payment_intent_id=intent.id, status=intent.status, payment=payment)


@router.post(
    "/subscriptions",
    operation_id="createStripeSubscription",
    summary="Subscribe a customer to a price",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionResult,
    responses=ACTION_ERRORS,
)
def create_subscription(
    payload: SubscriptionCreate, integrations: OwnedIntegration, idempotency_key: IdempotencyKey = None
) -> SubscriptionResult:
    account = _account(integrations, payload.integration_id)
    with stripe_errors():
        created = account.client.v1.subscriptions.create(
            params={"customer": payload.customer, "items": [{"price": payload.price}]},
            options=_options(idempotency_key),
        )
    values = subscription_row(created.to_dict())
    account.store("subscriptions", values)
    return SubscriptionResult(subscription=Subscription.model_validate(values))


@router.delete(
    "/subscriptions/{subscription_id}",
    operation_id="cancelStripeSubscription",
    summary="Cancel a subscription now",
    response_model=SubscriptionResult,
    responses=ACTION_ERRORS,
)
def cancel_subscription(
    subscription_id: StripeId,
    integration_id: Annotated[uuid.UUID, Query(alias="integrationId")],
    integrations: OwnedIntegration,
) -> SubscriptionResult:
    account = _account(integrations, integration_id)
    with stripe_errors():
        cancelled = account.client.v1.subscriptions.cancel(subscription_id)
    values = subscription_row(cancelled.to_dict())
    account.store("subscriptions", values)
    return SubscriptionResult(subscription=Subscription.model_validate(values))


@router.post(
    "/refunds",
    operation_id="createStripeRefund",
    summary="Refund a charge or payment intent, fully or in part",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentResult,
    responses=ACTION_ERRORS,
)
def create_refund(
    payload: RefundCreate, integrations: OwnedIntegration, idempotency_key: IdempotencyKey = None
) -> PaymentResult:
    account = _account(integrations, payload.integration_id)
    params: Any = {"charge": payload.charge} if payload.charge else {"payment_intent": payload.payment_intent}
    if payload.amount is not None:
        params["amount"] = payload.amount
    with stripe_errors():
        refund = account.client.v1.refunds.create(params=params, options=_options(idempotency_key))
        # The charge's own totals after the refund: what the payment history shows.
        charge = account.client.v1.charges.retrieve(str(refund.charge))
    values = charge_row(charge.to_dict())
    account.store("payments", values)
    return PaymentResult(payment=Payment.model_validate(values))


@router.post(
    "/webhook",
    operation_id="receiveStripeWebhook",
    summary="Stripe webhook endpoint (signed by Stripe; no API token)",
    response_model=WebhookReceipt,
    responses={**documented_errors(400, 413, 429)},
    # The body is read raw (the signature covers its bytes); its schema says what a Stripe event holds.
    openapi_extra={"security": [], "requestBody": request_body(), "x-signed-by": "Stripe-Signature"},
)
async def receive_webhook(request: Request, services: AppServices) -> WebhookReceipt:
    """Verify, store once by event id, apply. A bad or stale signature (400 invalid_signature), or an event
    the service cannot read (400), changes nothing."""
    started = time.perf_counter()
    payload = await request.body()  # the raw bytes: the signature covers them exactly
    try:
        event = stripe_webhooks.verify(
            payload,
            request.headers.get("Stripe-Signature"),
            services.settings.stripe_webhook_secrets,
            services.settings.stripe_webhook_tolerance_s,
        )
        return await run_in_threadpool(_record_and_apply, services.engine, event, started)
    except stripe_webhooks.SignatureRejected as exc:
        log.warning("stripe webhook rejected", reason=str(exc))
        raise InvalidSignature(f"stripe webhook rejected: {exc}") from None
    except EventMalformed as exc:  # also its object's: the transaction stored nothing
        raise BadRequest(f"stripe webhook not read: {exc}") from None


def _record_and_apply(engine: Engine, event: dict[str, Any], started: float) -> WebhookReceipt:
    occurred = datetime.fromtimestamp(int(event.get("created") or 0), tz=UTC)
    with engine.begin() as connection:
        row_id = store.receive(connection, "stripe", str(event["id"]), str(event["type"]), event, occurred)
        if row_id is None:
            return WebhookReceipt(received=True, duplicate=True, outcome="duplicate")
        outcome, detail, integration = stripe_webhooks.apply(connection, event)
        duration_ms = round((time.perf_counter() - started) * 1000)
        store.settle(connection, row_id, outcome, duration_ms, detail, integration)
    return WebhookReceipt(received=True, duplicate=False, outcome=outcome)
