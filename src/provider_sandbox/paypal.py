"""PayPal simulator: OAuth client credentials, Payments v1, Billing v1 and webhook verification.

Sandbox path                                   Real URL
/paypal/v1/oauth2/token                        https://api-m.sandbox.paypal.com/v1/oauth2/token
/paypal/v1/payments/payment[/{id}[/execute]]   https://api-m.sandbox.paypal.com/v1/payments/payment...
/paypal/v1/payments/sale/{id}[/refund]         https://api-m.sandbox.paypal.com/v1/payments/sale/...
/paypal/v1/billing/plans[/{id}[/activate]]     https://api-m.sandbox.paypal.com/v1/billing/plans...
/paypal/v1/billing/subscriptions[/{id}[/cancel]]
/paypal/v1/notifications/verify-webhook-signature
/paypal/checkoutnow?token=|ba_token=           https://www.sandbox.paypal.com/checkoutnow (auto-approves)
/paypal/certs/<cert id>.pem                    the webhook signing certificate

Tokens last 32400 s (PayPal's documented 9 h); a bad or expired token is a 401 AUTHENTICATION_FAILURE.
State and rendering are in paypal_state.py, resource handlers in paypal_routes.py, signing in
paypal_webhooks.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.control_fields import ControlError
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.oauth import OAuthError
from provider_sandbox.core.oauth_routes import oauth_error_response, read_form
from provider_sandbox.core.routing import mount
from provider_sandbox.core.webhook_control import WebhookControl, endpoint_options
from provider_sandbox.core.webhooks import Endpoint, WebhookDispatcher
from provider_sandbox.paypal_objects import PayPalError
from provider_sandbox.paypal_routes import add_routes, guarded
from provider_sandbox.paypal_state import PayPalState


class PayPalSimulator(PayPalState):
    """The state of paypal_state.py, served: token, certificate, resource and control routes."""

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route("/v1/oauth2/token", self.token, methods=["POST"])
        router.add_api_route("/certs/{name}", guarded(self.certificate), methods=["GET"])
        add_routes(router, self)
        return router

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
            raise PayPalError(404)
        return Response(self.genuine.pem, media_type="application/x-pem-file")

    def control_router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/impostor-certs/{name}")
        async def impostor(name: str) -> Response:
            if name != f"{self.impostor.cert_id}.pem":
                raise ControlError(404, "not_found", "no such certificate")
            return Response(self.impostor.pem, media_type="application/x-pem-file")

        mount(router, WebhookControl(PayPalWebhooks(self)).routes())
        return router


class PayPalWebhooks:
    """The `WebhookSource` for the shared webhook control routes."""

    def __init__(self, sim: PayPalSimulator) -> None:
        self.sim = sim

    @property
    def dispatcher(self) -> WebhookDispatcher:
        return self.sim.dispatcher

    def register_endpoint(self, data: dict[str, Any], origin: str) -> tuple[Endpoint, dict[str, Any]]:
        options = endpoint_options(data)
        endpoint = self.dispatcher.register(options.pop("url"), "", "", origin=origin, **options)
        endpoint.id = endpoint.id.upper()
        self.dispatcher.endpoints = {e.id.upper(): e for e in self.dispatcher.endpoints.values()}
        body = endpoint.to_json()
        body.update(webhook_id=endpoint.id, cert_url=self.sim.signer.cert_url(endpoint))
        return endpoint, body

    def events(self) -> list[dict[str, Any]]:
        return list(self.sim.event_log)

    def event_on_demand(self, event_type: str, object_id: str, deliver: bool) -> dict[str, Any]:
        raise ControlError(400, "invalid_field", "PayPal events come from API calls; redeliver them by id instead")
