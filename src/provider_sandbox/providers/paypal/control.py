"""The PayPal control routes under `/_sandbox/paypal`: the shared webhook routes, and the impostor
certificate a `foreign_cert_url` delivery points at (only a cert-URL check stops it).

    GET /impostor-certs/{name}      the impostor's PEM
    + the webhook routes of core/webhook_control.py; register with {"url", "enabled_events"?,
      "max_attempts"?, "retry_delay_ms"?} -> 201 {"webhook_id", "cert_url", ...}
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Response

from provider_sandbox.core.control_fields import ControlError
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.webhook_control import WebhookControl, endpoint_options
from provider_sandbox.core.webhooks import Endpoint, WebhookDispatcher
from provider_sandbox.providers.paypal.signing import CertificateAuthority, PayPalSigner


class PayPalWebhookSource(Protocol):
    """What the PayPal control routes need from the simulator."""

    events: dict[str, dict[str, Any]]  # event id -> the event as emitted, oldest first

    @property
    def dispatcher(self) -> WebhookDispatcher: ...

    @property
    def signer(self) -> PayPalSigner: ...

    @property
    def impostor(self) -> CertificateAuthority: ...


class PayPalControl:
    """The impostor certificate plus the webhook routes; `routes()` is their table."""

    def __init__(self, sim: PayPalWebhookSource) -> None:
        self.sim = sim

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/impostor-certs/{name}", self.impostor),
            *WebhookControl(PayPalWebhooks(self.sim)).routes(),
        ]

    async def impostor(self, name: str) -> Response:
        if name != f"{self.sim.impostor.cert_id}.pem":
            raise ControlError(404, "not_found", "no such certificate")
        return Response(self.sim.impostor.pem, media_type="application/x-pem-file")


class PayPalWebhooks:
    """The `WebhookSource` for the shared webhook control routes."""

    def __init__(self, sim: PayPalWebhookSource) -> None:
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
        return list(self.sim.events.values())

    def event_on_demand(self, event_type: str, object_id: str, deliver: bool) -> dict[str, Any]:
        raise ControlError(400, "invalid_field", "PayPal events come from API calls; redeliver them by id instead")
