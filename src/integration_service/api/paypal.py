"""`/api/integrations/paypal`: payments, billing plans and subscriptions through a PAYPAL integration,
the synced rows, orders (api/paypal_orders.py) and the webhook (api/paypal_webhook.py).

Every action names the integration (`integrationId`); another user's integration is a 404. What an
action creates is stored at once (upserted on the PayPal id, merged so that a webhook that arrived
first is never overwritten by an older answer).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import Engine, Table

from integration_service.api import paypal_orders, paypal_webhook
from integration_service.api.dependencies import CurrentUser, DatabaseEngine
from integration_service.api.errors import (
    documented_errors,
)
from integration_service.api.models import DECIMAL_DIGITS
from integration_service.api.owned import OwnedIntegration
from integration_service.api.paypal_calls import ACTION_ERRORS, client_for, link_of, store
from integration_service.api.paypal_models import (
    PATH_ID,
    PaymentCreate,
    PaymentCreated,
    PaymentEnvelope,
    PaymentExecute,
    PaymentList,
    PayPalPayment,
    PayPalPlan,
    PayPalSubscription,
    PlanActivate,
    PlanCreate,
    PlanEnvelope,
    SubscriptionCancel,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionEnvelope,
    SubscriptionList,
    paypal_value,
)
from integration_service.api.provider_errors import PAYPAL, reported_as
from integration_service.db import paypal_rows
from integration_service.db.listing import page_of_rows
from integration_service.db.schema import paypal_payments, paypal_subscriptions
from integration_service.providers.paypal import PayPal, payment_row, subscription_row

router = APIRouter(prefix="/api/integrations/paypal", tags=["paypal"])
router.include_router(paypal_webhook.router)
router.include_router(paypal_orders.router)


PaymentId = Annotated[str, Path(pattern=PATH_ID, description="PayPal payment id (PAYID-...)")]
PlanId = Annotated[str, Path(pattern=PATH_ID, description="PayPal plan id (P-...)")]
SubscriptionId = Annotated[str, Path(pattern=PATH_ID, description="PayPal subscription id (I-...)")]


@router.post(
    "/payments",
    operation_id="createPayPalPayment",
    summary="Create a PayPal payment (intent sale); send the buyer to approvalUrl",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentCreated,
    responses=ACTION_ERRORS,
)
def create_payment(payload: PaymentCreate, integrations: OwnedIntegration) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    transaction: dict[str, Any] = {
        "amount": {"total": paypal_value(payload.amount, payload.currency), "currency": payload.currency}
    }
    if payload.description:
        transaction["description"] = payload.description
    body = {
        "intent": "sale",
        "payer": {"payment_method": "paypal"},
        "transactions": [transaction],
        "redirect_urls": {"return_url": str(payload.return_url), "cancel_url": str(payload.cancel_url)},
    }
    with reported_as(PAYPAL):
        created = client_for(owned, integrations).call("POST", "/v1/payments/payment", body=body)
        approval_url = link_of(created, "approval_url")
        row = payment_row(created)
    stored = store(integrations, paypal_rows.PAYMENTS, owned, row)
    return PaymentCreated(payment=PayPalPayment.model_validate(dict(stored)), approval_url=approval_url)


@router.post(
    "/payments/{payment_id}/execute",
    operation_id="executePayPalPayment",
    summary="Execute a payment the buyer approved (completes the sale)",
    response_model=PaymentEnvelope,
    responses=ACTION_ERRORS,
)
def execute_payment(payment_id: PaymentId, payload: PaymentExecute, integrations: OwnedIntegration) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    with reported_as(PAYPAL):
        executed = client_for(owned, integrations).call(
            "POST", f"/v1/payments/payment/{payment_id}/execute", body={"payer_id": payload.payer_id}
        )
        row = payment_row(executed)
    stored = store(integrations, paypal_rows.PAYMENTS, owned, row)
    return PaymentEnvelope(payment=PayPalPayment.model_validate(dict(stored)))


@router.post(
    "/plans",
    operation_id="createPayPalPlan",
    summary="Create a billing plan (and activate it unless activate is false)",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanEnvelope,
    responses=ACTION_ERRORS,
)
def create_plan(payload: PlanCreate, integrations: OwnedIntegration) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    body: dict[str, Any] = {
        "product_id": payload.product_id,
        "name": payload.name,
        "status": "CREATED",  # activated explicitly below, as PayPal's lifecycle has it
        "billing_cycles": [
            {
                "frequency": {"interval_unit": payload.interval_unit, "interval_count": payload.interval_count},
                "tenure_type": "REGULAR",
                "sequence": 1,
                "total_cycles": payload.total_cycles,
                "pricing_scheme": {
                    "fixed_price": {
                        "value": paypal_value(payload.amount, payload.currency),
                        "currency_code": payload.currency,
                    }
                },
            }
        ],
        "payment_preferences": {"auto_bill_outstanding": True, "payment_failure_threshold": 3},
    }
    if payload.description:
        body["description"] = payload.description
    with reported_as(PAYPAL):
        client = client_for(owned, integrations)
        plan = client.call("POST", "/v1/billing/plans", body=body)
        if payload.activate:
            client.call("POST", f"/v1/billing/plans/{plan['id']}/activate")
            plan = client.get_json(f"/v1/billing/plans/{plan['id']}")
        return PlanEnvelope(plan=PayPalPlan.from_paypal(plan))


@router.post(
    "/plans/{plan_id}/activate",
    operation_id="activatePayPalPlan",
    summary="Activate a billing plan so that subscriptions can use it",
    response_model=PlanEnvelope,
    responses=ACTION_ERRORS,
)
def activate_plan(plan_id: PlanId, payload: PlanActivate, integrations: OwnedIntegration) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    with reported_as(PAYPAL):
        client = client_for(owned, integrations)
        client.call("POST", f"/v1/billing/plans/{plan_id}/activate")
        return PlanEnvelope(plan=PayPalPlan.from_paypal(client.get_json(f"/v1/billing/plans/{plan_id}")))


@router.post(
    "/subscriptions",
    operation_id="createPayPalSubscription",
    summary="Subscribe to an active plan; send the subscriber to approvalUrl",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCreated,
    responses=ACTION_ERRORS,
)
def create_subscription(payload: SubscriptionCreate, integrations: OwnedIntegration) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    body: dict[str, Any] = {
        "plan_id": payload.plan_id,
        "application_context": {
            "return_url": str(payload.return_url),
            "cancel_url": str(payload.cancel_url),
            "user_action": "SUBSCRIBE_NOW",
        },
    }
    if payload.subscriber_email:
        body["subscriber"] = {"email_address": payload.subscriber_email}
    if payload.custom_id:
        body["custom_id"] = payload.custom_id
    with reported_as(PAYPAL):
        created = client_for(owned, integrations).call("POST", "/v1/billing/subscriptions", body=body)
        approval_url = link_of(created, "approve")
        row = subscription_row(created)
    stored = store(integrations, paypal_rows.SUBSCRIPTIONS, owned, row)
    return SubscriptionCreated(subscription=PayPalSubscription.model_validate(dict(stored)), approval_url=approval_url)


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    operation_id="cancelPayPalSubscription",
    summary="Cancel an active or suspended subscription",
    response_model=SubscriptionEnvelope,
    responses=ACTION_ERRORS,
)
def cancel_subscription(
    subscription_id: SubscriptionId,
    payload: SubscriptionCancel,
    integrations: OwnedIntegration,
) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    with reported_as(PAYPAL):
        client = client_for(owned, integrations)
        client.call("POST", f"/v1/billing/subscriptions/{subscription_id}/cancel", body={"reason": payload.reason})
        row = subscription_row(client.get_json(f"/v1/billing/subscriptions/{subscription_id}"))
    stored = store(integrations, paypal_rows.SUBSCRIPTIONS, owned, row)
    return SubscriptionEnvelope(subscription=PayPalSubscription.model_validate(dict(stored)))


def _page(
    engine: Engine,
    table: Table,
    user_id: str,
    integration_id: uuid.UUID | None,
    state: tuple[str, str | None],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    conditions = [table.c.user_id == user_id]
    if integration_id is not None:
        conditions.append(table.c.integration_id == integration_id)
    column, value = state
    if value is not None:
        conditions.append(table.c[column] == value)
    return page_of_rows(engine, table, conditions, [table.c.integration_id, table.c.id], limit, offset)


IntegrationFilter = Annotated[uuid.UUID | None, Query(alias="integrationId")]
Limit = Annotated[int, Query(ge=1, le=500), DECIMAL_DIGITS]
Offset = Annotated[int, Query(ge=0, le=10_000_000), DECIMAL_DIGITS]
StateFilter = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z_]+$")]


@router.get(
    "/payments",
    operation_id="listPayPalPayments",
    summary="PayPal payments stored for your integrations (synced, created here, or updated by webhooks)",
    response_model=PaymentList,
    responses=documented_errors(401, 422, 429),
)
def list_payments(
    user_id: CurrentUser,
    engine: DatabaseEngine,
    integration_id: IntegrationFilter = None,
    state: StateFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PaymentList:
    rows, total = _page(engine, paypal_payments, user_id, integration_id, ("state", state), limit, offset)
    payments = [PayPalPayment.model_validate(row) for row in rows]
    return PaymentList(payments=payments, total=total, limit=limit, offset=offset)


@router.get(
    "/subscriptions",
    operation_id="listPayPalSubscriptions",
    summary="PayPal subscriptions stored for your integrations",
    response_model=SubscriptionList,
    responses=documented_errors(401, 422, 429),
)
def list_subscriptions(
    user_id: CurrentUser,
    engine: DatabaseEngine,
    integration_id: IntegrationFilter = None,
    status: StateFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> SubscriptionList:
    rows, total = _page(engine, paypal_subscriptions, user_id, integration_id, ("status", status), limit, offset)
    subscriptions = [PayPalSubscription.model_validate(row) for row in rows]
    return SubscriptionList(subscriptions=subscriptions, total=total, limit=limit, offset=offset)
