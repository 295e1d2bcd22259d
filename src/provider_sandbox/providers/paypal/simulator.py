"""PayPal simulator: OAuth client credentials, Payments v1, Orders v2, Billing v1 and webhook verification.

Sandbox path                                   Real URL
/paypal/v1/oauth2/token                        https://api-m.sandbox.paypal.com/v1/oauth2/token
/paypal/v1/payments/payment[/{id}[/execute]]   https://api-m.sandbox.paypal.com/v1/payments/payment...
/paypal/v1/payments/sale/{id}[/refund]         https://api-m.sandbox.paypal.com/v1/payments/sale/...
/paypal/v1/billing/plans[/{id}[/activate]]     https://api-m.sandbox.paypal.com/v1/billing/plans...
  (+ PATCH /{id}, POST /{id}/deactivate)
/paypal/v1/billing/subscriptions[/{id}[/cancel]] (+ PATCH /{id})
/paypal/v1/notifications/verify-webhook-signature
/paypal/v1/notifications/webhooks[/{id}]       (list and show the registered webhooks)
/paypal/v1/notifications/webhooks-events/{id}  (an event as it was sent)
/paypal/v2/checkout/orders[/{id}[/capture|/authorize]]  https://api-m.sandbox.paypal.com/v2/checkout/orders...
/paypal/v2/payments/captures/{id}, /authorizations/{id}  (what completing an order made)
/paypal/checkoutnow?token=|ba_token=           https://www.sandbox.paypal.com/checkoutnow (auto-approves;
                                               token = EC-... payment, BA-... subscription, or an order id)
/paypal/certs/<cert id>.pem                    the webhook signing certificate

Tokens last 32400 s (PayPal's documented 9 h); a bad or expired token is a 401 AUTHENTICATION_FAILURE.
Every response carries a `Paypal-Debug-Id` header, as PayPal's do (on errors the body's debug_id).
State, rendering and the token/certificate endpoints are here; payment handlers in routes.py (their
list in payment_list.py), plan handlers in plans.py (fields in plan_fields.py, JSON Patch in
patching.py), subscription handlers in billing.py, order handlers in orders.py (fields in
order_fields.py, objects in order_wire.py), notification handlers (webhook verification, registered
webhooks, sent events) in notifications.py, all seeing the simulator as api.py's PayPalApi; v1 objects
in wire.py, error envelopes in errors.py, signing in signing.py, control routes in control.py.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator, Sandbox, json_response
from provider_sandbox.core.oauth import Grant, OAuthError, OAuthProfile
from provider_sandbox.core.oauth_routes import oauth_error_response, read_form
from provider_sandbox.core.routing import HttpEndpoint, Route, mount
from provider_sandbox.core.tenants import TenantSpec, stable_uuid
from provider_sandbox.core.webhooks import WebhookDispatcher
from provider_sandbox.providers.paypal.control import PayPalControl
from provider_sandbox.providers.paypal.errors import DEBUG_HEADER, PayPalError, guarded, new_debug_id
from provider_sandbox.providers.paypal.routes import PayPalRoutes
from provider_sandbox.providers.paypal.signing import CertificateAuthority, PayPalSigner
from provider_sandbox.providers.paypal.wire import seed_payments, stamp

BASE = "{base}"  # stored hrefs carry this marker; responses replace it with the caller's base URL
SCOPES = " ".join(
    f"https://uri.paypal.com/services/{s}" for s in ("payments/payment", "subscriptions", "webhooks", "payments/refund")
)


def _token_fields(body: dict[str, Any], grant: Grant) -> dict[str, Any]:
    body.update(scope=grant.scope or SCOPES, app_id="APP-80W284485P519543T", nonce=f"{secrets.token_hex(16)}")
    return body


class PayPalSimulator(ProviderSimulator):
    name = "paypal"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="USD", country="US")  # unused
    tenant_names: ClassVar[tuple[str, str]] = ("Sandbox Merchant", "Sandbox Merchant 2")
    # Client-credential tokens only: refresh_scope is never requested, so no refresh token is issued.
    oauth_profile = OAuthProfile(
        provider="paypal", access_ttl_s=32400, refresh_ttl_s=1, refresh_scope="sandbox:never", decorate=_token_fields
    )

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.genuine = CertificateAuthority("messageverificationcerts.sandbox.paypal.com")
        self.impostor = CertificateAuthority("messageverificationcerts.paypal.com.evil.example")
        self.signer = PayPalSigner(self.genuine, self.impostor)
        self._dispatcher: WebhookDispatcher | None = None  # made by reset(), with the fresh clock
        self.payments: dict[str, dict[str, Any]] = {}
        self.sales: dict[str, dict[str, Any]] = {}
        self.plans: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.approvals: dict[str, tuple[str, str]] = {}  # checkout token -> (kind, object id)
        self.approved_payers: dict[str, str] = {}  # payment id -> approving payer (never in a response)
        self.return_urls: dict[str, str] = {}  # subscription/order id -> approval return URL (never in a response)
        self.orders: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, dict[str, Any]] = {}
        self.authorizations: dict[str, dict[str, Any]] = {}
        self.order_requests: dict[str, str] = {}  # "<operation>:<PayPal-Request-Id>" -> order id
        self.events: dict[str, dict[str, Any]] = {}  # event id -> the event as emitted (webhooks-events/{id})
        self.refunded: dict[str, float] = {}  # sale id -> amount refunded so far
        self.refunds: dict[str, dict[str, Any]] = {}  # refund id -> the refund (GET /v1/payments/refund/{id})

    @property
    def dispatcher(self) -> WebhookDispatcher:
        assert self._dispatcher is not None
        return self._dispatcher

    def reset(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel_all()
        self._dispatcher = WebhookDispatcher(
            "paypal", self.sandbox.clock, self.signer, "WH", ca_bundle=self.sandbox.config.webhook_ca_bundle
        )
        self.payments, self.sales, self.plans, self.subscriptions, self.approvals = {}, {}, {}, {}, {}
        self.approved_payers, self.return_urls = {}, {}
        self.orders, self.captures, self.authorizations, self.order_requests = {}, {}, {}, {}
        self.events, self.refunded, self.refunds = {}, {}, {}
        for payment in seed_payments(BASE, self.sandbox.config.payments.paypal_payments):
            self.payments[payment["id"]] = payment
            sale = payment["transactions"][0]["related_resources"][0]["sale"]
            self.sales[sale["id"]] = sale

    # --- routes ---------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        own: list[Route[HttpEndpoint]] = [
            Route("POST", "/v1/oauth2/token", self.token),
            Route("GET", "/certs/{name}", self.certificate),
        ]
        # guarded: a PayPalError raised by any handler answers in PayPal's error envelope.
        return mount(APIRouter(), [*own, *PayPalRoutes(self).routes()], guarded)

    async def token(self, request: Request) -> Response:
        try:
            body = self.sandbox.oauth.client_credentials(
                self.name, await read_form(request), request.headers.get("authorization")
            )
        except OAuthError as error:
            return oauth_error_response(error)
        return json_response(body)

    async def certificate(self, name: str) -> Response:
        if name != f"{self.genuine.cert_id}.pem":
            raise PayPalError(404, "INVALID_RESOURCE_ID", "Requested resource ID was not found.", v1=True)
        return Response(self.genuine.pem, media_type="application/x-pem-file")

    def control_router(self) -> APIRouter:
        return mount(APIRouter(), PayPalControl(self).routes())

    # --- wire format -----------------------------------------------------------------------------

    @staticmethod
    def base(request: Request) -> str:
        return f"{str(request.base_url).rstrip('/')}/paypal"

    def render(self, obj: Any, request: Request, status: int = 200) -> Response:
        return Response(
            json.dumps(obj, separators=(",", ":")).replace(BASE, self.base(request)),
            status,
            media_type="application/json",
            headers={DEBUG_HEADER: new_debug_id()},
        )

    def error_response(self, status: int, message: str) -> Response:
        # PayPal's messages are fixed per status (the specs enumerate them): the sandbox's own words
        # (an unknown path, an injected fault's message) would make the body one PayPal never sends.
        return PayPalError(status).response()

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else None
        return PayPalError(429).response(headers)

    def malformed_response(self) -> Response:
        response = super().malformed_response()
        response.headers[DEBUG_HEADER] = new_debug_id()
        return response

    def page_number(self, request: Request) -> int | None:
        raw = request.query_params.get("page")
        return int(raw) if raw and raw.isdigit() else None

    def authorize(self, request: Request) -> None:
        if self.check_bearer(request).grant is None:
            raise PayPalError(401)

    def emit(
        self, request: Request, event_type: str, resource_type: str, resource: dict[str, Any], summary: str
    ) -> dict[str, Any]:
        event_id = f"WH-{secrets.token_hex(9).upper()}-{secrets.token_hex(9).upper()}"
        base = self.base(request)
        event = {
            "id": event_id,
            "event_version": "1.0",
            "create_time": stamp(self.sandbox.clock.now()),
            "resource_type": resource_type,
            "resource_version": "1.0" if resource_type in ("sale", "refund") else "2.0",  # v1 payments' are 1.0
            "event_type": event_type,
            "summary": summary,
            "resource": json.loads(json.dumps(resource).replace(BASE, base)),
            "links": [
                {"href": f"{base}/v1/notifications/webhooks-events/{event_id}", "rel": "self", "method": "GET"},
                {
                    "href": f"{base}/v1/notifications/webhooks-events/{event_id}/resend",
                    "rel": "resend",
                    "method": "POST",
                },
            ],
        }
        self.events[event_id] = event
        self.dispatcher.dispatch(event, "")
        return event
