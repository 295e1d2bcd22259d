"""`/api/integrations/paypal/orders`: PayPal checkout orders (Orders v2, intent CAPTURE) through a PAYPAL
integration: create one and send the buyer to `approvalUrl`, read it, capture it once approved.

Each answer is the order as stored in `paypal_orders`, upserted on the PayPal order id and merged so
that a webhook that arrived first is never overwritten by an older answer (db/paypal_rows.py). The
errors are the other PayPal actions' (api/provider_errors.py): another user's integration or an order
PayPal does not know is a 404, PayPal's refusal (e.g. ORDER_NOT_APPROVED) a 422 naming PayPal's issue,
PayPal failing a 502 or 503. Capturing an order that is already captured answers it as it is, so a
client may retry a capture whose answer it lost.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from integration_service.api.owned import OwnedIntegration
from integration_service.api.paypal_calls import ACTION_ERRORS, client_for, link_of, store
from integration_service.api.paypal_models import (
    PATH_ID,
    OrderCapture,
    OrderCreate,
    OrderCreated,
    OrderEnvelope,
    PayPalOrder,
    paypal_value,
)
from integration_service.api.provider_errors import PAYPAL, ProviderFailed, reported_as
from integration_service.db import paypal_rows
from integration_service.providers.errors import ProviderRequestError
from integration_service.providers.paypal import PayPal
from integration_service.providers.paypal_client import PayPalClient
from integration_service.providers.paypal_orders import order_row

router = APIRouter(prefix="/orders")
ORDERS = "/v2/checkout/orders"
REPRESENTATION = {"Prefer": "return=representation"}  # the whole order, not PayPal's minimal answer
OrderId = Annotated[str, Path(pattern=PATH_ID, description="PayPal order id")]


def _order_body(payload: OrderCreate) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "amount": {"currency_code": payload.currency, "value": paypal_value(payload.amount, payload.currency)}
    }
    # No invoice_id: PayPal refuses one it has seen before at capture time; a CRM reference goes in custom_id.
    for name in ("description", "custom_id"):
        if getattr(payload, name):
            unit[name] = getattr(payload, name)
    context = {"return_url": str(payload.return_url), "cancel_url": str(payload.cancel_url), "user_action": "PAY_NOW"}
    source = {"paypal": {"experience_context": context}}  # the buyer approves with PayPal: a payer-action link
    return {"intent": "CAPTURE", "purchase_units": [unit], "payment_source": source}


def _order(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict) or not answer.get("id"):
        raise ProviderFailed("PayPal's answer is not an order")
    return order_row(answer)


def _captured(client: PayPalClient, order_id: str) -> Any:
    """The order after capturing it; an order captured before is answered as it is (no second capture)."""
    try:
        return client.call("POST", f"{ORDERS}/{order_id}/capture", body={}, headers=REPRESENTATION)
    except ProviderRequestError as exc:
        if exc.status_code != 422:
            raise
        shown = client.get_json(f"{ORDERS}/{order_id}")
        if isinstance(shown, dict) and shown.get("status") == "COMPLETED" and shown.get("intent") == "CAPTURE":
            return shown
        raise


@router.post(
    "",
    operation_id="createPayPalOrder",
    summary="Create a PayPal checkout order (intent CAPTURE); send the buyer to approvalUrl",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderCreated,
    responses=ACTION_ERRORS,
)
def create_order(payload: OrderCreate, integrations: OwnedIntegration) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    with reported_as(PAYPAL):
        client = client_for(owned, integrations)
        created = client.call("POST", ORDERS, body=_order_body(payload), headers=REPRESENTATION)
        approval_url = link_of(created, "payer-action", "approve")
        row = _order(created)
    stored = store(integrations, paypal_rows.ORDERS, owned, row)
    return OrderCreated(order=PayPalOrder.model_validate(dict(stored)), approval_url=approval_url)


@router.get(
    "/{order_id}",
    operation_id="getPayPalOrder",
    summary="Read an order from PayPal (and store what it says)",
    response_model=OrderEnvelope,
    responses=ACTION_ERRORS,
)
def get_order(
    order_id: OrderId,
    integration_id: Annotated[uuid.UUID, Query(alias="integrationId", description="A PAYPAL integration of yours")],
    integrations: OwnedIntegration,
) -> Any:
    owned = integrations.active(integration_id, PayPal)
    with reported_as(PAYPAL):
        row = _order(client_for(owned, integrations).get_json(f"{ORDERS}/{order_id}"))
    stored = store(integrations, paypal_rows.ORDERS, owned, row)
    return OrderEnvelope(order=PayPalOrder.model_validate(dict(stored)))


@router.post(
    "/{order_id}/capture",
    operation_id="capturePayPalOrder",
    summary="Capture an order the buyer approved (an order captured before is answered as it is)",
    response_model=OrderEnvelope,
    responses=ACTION_ERRORS,
)
def capture_order(order_id: OrderId, payload: OrderCapture, integrations: OwnedIntegration) -> Any:
    owned = integrations.active(payload.integration_id, PayPal)
    with reported_as(PAYPAL):
        row = _order(_captured(client_for(owned, integrations), order_id))
    stored = store(integrations, paypal_rows.ORDERS, owned, row)
    return OrderEnvelope(order=PayPalOrder.model_validate(dict(stored)))
