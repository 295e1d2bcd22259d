"""PayPal's notifications API (notifications_webhooks_v1): the webhook signature verification, the
registered webhooks, and the events sent to them.

    POST /v1/notifications/verify-webhook-signature
    GET  /v1/notifications/webhooks[/{webhook_id}]      (list and show the registered webhooks)
    GET  /v1/notifications/webhooks-events/{event_id}   the event exactly as it was sent (a receiver
                                                        asks it to confirm that PayPal sent an event)

An id PayPal does not know is a 404 INVALID_RESOURCE_ID "Resource id is invalid.", as PayPal answers
on this API (in the Payments v1 envelope: `information_link`, no details).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.webhooks import Endpoint
from provider_sandbox.providers.paypal.api import PayPalApi
from provider_sandbox.providers.paypal.errors import PayPalError, json_object, v1_invalid, v1_malformed
from provider_sandbox.providers.paypal.wire import link


def _unknown_id() -> PayPalError:
    return PayPalError(404, "INVALID_RESOURCE_ID", "Resource id is invalid.", v1=True)


class NotificationRoutes:
    """Webhook verification, the registered webhooks and the sent events; `routes()` is their table."""

    def __init__(self, api: PayPalApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("POST", "/v1/notifications/verify-webhook-signature", self.verify),
            Route("GET", "/v1/notifications/webhooks", self.list_webhooks),
            Route("GET", "/v1/notifications/webhooks/{webhook_id}", self.get_webhook),
            Route("GET", "/v1/notifications/webhooks-events/{event_id}", self.get_event),
        ]

    async def verify(self, request: Request) -> Response:
        self.api.authorize(request)
        data = await json_object(request, v1_malformed)
        fields = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id")
        missing = [f for f in (*fields, "webhook_event") if f not in data]
        if missing or not isinstance(data.get("webhook_event"), dict):
            raise v1_invalid(missing[0] if missing else "webhook_event", "This field is required")
        ok = self.api.signer.verify(data, set(self.api.dispatcher.endpoints))
        return self.api.render({"verification_status": "SUCCESS" if ok else "FAILURE"}, request)

    async def list_webhooks(self, request: Request) -> Response:
        self.api.authorize(request)
        if request.query_params.get("anchor_type", "APPLICATION") not in ("APPLICATION", "ACCOUNT"):
            raise v1_invalid("anchor_type", "anchor_type must be APPLICATION or ACCOUNT")
        endpoints = self.api.dispatcher.endpoints.values()
        return self.api.render({"webhooks": [_webhook(endpoint) for endpoint in endpoints]}, request)

    async def get_webhook(self, request: Request, webhook_id: str) -> Response:
        self.api.authorize(request)
        endpoint = self.api.dispatcher.endpoints.get(webhook_id)
        if endpoint is None:
            raise _unknown_id()
        return self.api.render(_webhook(endpoint), request)

    async def get_event(self, request: Request, event_id: str) -> Response:
        """PayPal's `webhooks-events.get`: the event as emitted (its links and resource as sent)."""
        self.api.authorize(request)
        event = self.api.events.get(event_id)
        if event is None:
            raise _unknown_id()
        return self.api.render(event, request)


def _webhook(endpoint: Endpoint) -> dict[str, Any]:
    """A registered endpoint as the notifications spec's `webhook` (only the links the sandbox serves)."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": [{"name": name} for name in endpoint.enabled_events],
        "links": [link(f"{{base}}/v1/notifications/webhooks/{endpoint.id}", "self")],
    }
