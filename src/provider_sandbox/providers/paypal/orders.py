"""PayPal Orders v2: create, show, capture and authorize orders, the payer's approval, and the captures and
authorizations they make; CHECKOUT.ORDER.APPROVED, PAYMENT.CAPTURE.COMPLETED and
PAYMENT.AUTHORIZATION.CREATED as the state changes.

An order is CREATED (PAYER_ACTION_REQUIRED when the request names the PayPal wallet as its source),
APPROVED once the buyer follows its approve link (`/checkoutnow?token=<order id>`, which redirects
to the return URL with `token` and `PayerID`, as v1 payments' approval does), COMPLETED once captured
(intent CAPTURE) or authorized (intent AUTHORIZE). A payer approving as DENYPAYER2345 cannot pay: the
capture is a 422 PAYER_CANNOT_PAY. `PayPal-Request-Id` makes create, capture and authorize idempotent:
a repeat answers 200 with the order as it is. `Prefer: return=representation` gives the whole order,
else the minimal one. Capturing an AUTHORIZE order is a 422 without a detail (the spec lists no issue
for it); its authorization is shown, never captured or voided (Payments v2 is not simulated).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.providers.paypal import order_wire as wire
from provider_sandbox.providers.paypal.api import PayPalApi
from provider_sandbox.providers.paypal.errors import PayPalError, json_value
from provider_sandbox.providers.paypal.order_fields import (
    NOT_APPROVED,
    ORDERS_INFO,
    malformed,
    order_error,
    order_not_found,
    order_request,
)
from provider_sandbox.providers.paypal.wire import DENIED_PAYER, payer_id

ACTIONS = {"capture": ("CAPTURE", "captures"), "authorize": ("AUTHORIZE", "authorizations")}
ALREADY_DONE = {"capture": "ORDER_ALREADY_CAPTURED", "authorize": "ORDER_ALREADY_AUTHORIZED"}


def approve_order(api: PayPalApi, request: Request, order_id: str) -> Response:
    """The buyer approves in PayPal's checkout: APPROVED (once), back to the merchant's return URL."""
    obj = api.orders[order_id]
    if obj["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
        wire.approve(obj, request.query_params.get("sandbox_payer") or payer_id(), api.clock.now())
        api.emit(request, "CHECKOUT.ORDER.APPROVED", "checkout-order", obj, "An order has been approved by buyer")
    query = {"token": order_id, "PayerID": obj.get("payer", {}).get("payer_id", "")}
    return RedirectResponse(f"{api.return_urls[order_id]}?{urlencode(query)}", 302)


def _representation(request: Request) -> bool:
    return "return=representation" in request.headers.get("prefer", "").replace(" ", "").lower()


class OrderRoutes:
    """Orders v2 and the v2 payments they make; `routes()` is their table."""

    def __init__(self, api: PayPalApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("POST", "/v2/checkout/orders", self.create),
            Route("GET", "/v2/checkout/orders/{order_id}", self.show),
            Route("POST", "/v2/checkout/orders/{order_id}/capture", self.capture),
            Route("POST", "/v2/checkout/orders/{order_id}/authorize", self.authorize),
            Route("GET", "/v2/payments/captures/{capture_id}", self.show_capture),
            Route("GET", "/v2/payments/authorizations/{authorization_id}", self.show_authorization),
        ]

    def _answer(self, obj: dict[str, Any], request: Request, status: int) -> Response:
        return self.api.render(obj if _representation(request) else wire.minimal(obj), request, status)

    def _repeat(self, request: Request, key: str) -> Response | None:
        """The answer to a repeated PayPal-Request-Id (None for a first request)."""
        request_id = request.headers.get("paypal-request-id")
        order_id = self.api.order_requests.get(f"{key}:{request_id}") if request_id else None
        return self._answer(self.api.orders[order_id], request, 200) if order_id else None

    def _remember(self, request: Request, key: str, order_id: str) -> None:
        request_id = request.headers.get("paypal-request-id")
        if request_id:
            self.api.order_requests[f"{key}:{request_id}"] = order_id

    def _find(self, order_id: str) -> dict[str, Any]:
        if order_id not in self.api.orders:
            raise order_not_found()
        return self.api.orders[order_id]

    async def create(self, request: Request) -> Response:
        self.api.authorize(request)
        repeated = self._repeat(request, "create")
        if repeated is not None:
            return repeated
        checked = order_request(await json_value(request, malformed))
        obj = wire.order(self.api.clock.now(), checked)
        self.api.orders[obj["id"]] = obj
        self.api.return_urls[obj["id"]] = checked["return_url"]
        self.api.approvals[obj["id"]] = ("order", obj["id"])  # the approve link's token is the order id
        self._remember(request, "create", obj["id"])
        return self._answer(obj, request, 201)

    async def show(self, request: Request, order_id: str) -> Response:
        self.api.authorize(request)
        return self.api.render(self._find(order_id), request)

    async def capture(self, request: Request, order_id: str) -> Response:
        return await self._complete(request, order_id, "capture")

    async def authorize(self, request: Request, order_id: str) -> Response:
        return await self._complete(request, order_id, "authorize")

    async def _complete(self, request: Request, order_id: str, action: str) -> Response:
        self.api.authorize(request)
        obj = self._find(order_id)
        repeated = self._repeat(request, f"{action}:{order_id}")
        if repeated is not None:
            return repeated
        body = await json_value(request, malformed)
        if body is not None and not isinstance(body, dict):
            raise order_error(400, "INVALID_PARAMETER_SYNTAX", "/")
        self._refuse_unless_ready(obj, action)
        now, (_, kind) = self.api.clock.now(), ACTIONS[action]
        make = wire.capture if action == "capture" else wire.authorization
        payments = [make(obj, unit, now) for unit in obj["purchase_units"]]
        wire.complete(obj, payments, kind, now)
        store = self.api.captures if action == "capture" else self.api.authorizations
        for payment in payments:
            store[payment["id"]] = payment
            self._announce(request, action, payment)
        self._remember(request, f"{action}:{order_id}", order_id)
        return self._answer(obj, request, 201)

    @staticmethod
    def _refuse_unless_ready(obj: dict[str, Any], action: str) -> None:
        intent, _ = ACTIONS[action]
        if obj["intent"] != intent:
            if action == "authorize":
                raise order_error(422, "ACTION_DOES_NOT_MATCH_INTENT")
            raise PayPalError(422, info=ORDERS_INFO + "UNPROCESSABLE_ENTITY")
        if obj["status"] == "COMPLETED":
            raise order_error(422, ALREADY_DONE[action])
        if obj["status"] != "APPROVED":
            raise order_error(422, "ORDER_NOT_APPROVED", description=NOT_APPROVED[action])
        if obj["payer"]["payer_id"] == DENIED_PAYER:
            raise order_error(422, "PAYER_CANNOT_PAY")

    def _announce(self, request: Request, action: str, payment: dict[str, Any]) -> None:
        total = f"{payment['amount']['value']} {payment['amount']['currency_code']}"
        if action == "capture":
            self.api.emit(request, "PAYMENT.CAPTURE.COMPLETED", "capture", payment, f"Payment completed for {total}")
        else:
            summary = f"A payment authorization was created for {total}"
            self.api.emit(request, "PAYMENT.AUTHORIZATION.CREATED", "authorization", payment, summary)

    async def show_capture(self, request: Request, capture_id: str) -> Response:
        self.api.authorize(request)
        if capture_id not in self.api.captures:
            raise order_error(404, "INVALID_RESOURCE_ID", "capture_id", location="path")
        return self.api.render(self.api.captures[capture_id], request)

    async def show_authorization(self, request: Request, authorization_id: str) -> Response:
        self.api.authorize(request)
        if authorization_id not in self.api.authorizations:
            raise order_error(404, "INVALID_RESOURCE_ID", "authorization_id", location="path")
        return self.api.render(self.api.authorizations[authorization_id], request)
