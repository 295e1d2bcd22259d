"""Control routes for webhook delivery, mounted by Stripe and PayPal under `/_sandbox/<provider>`.

POST   /webhooks                 register {"url", ...provider options} -> 201 endpoint
GET    /webhooks                 endpoints (secrets as hints)
DELETE /webhooks/{id}
GET    /events                   every event the provider generated, oldest first
POST   /events                   {"type", "object_id", "deliver": true} -> a new event from state
POST   /webhooks/deliver         {"endpoint_id", "event_ids", "times", "order", "variant", "retry"}
GET    /webhooks/deliveries      ?endpoint_id=&event_id= every attempt, in order
POST   /webhooks/drain           wait until background deliveries (and retries) are done
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.control_fields import ControlError, control_body
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.webhooks import MAX_ATTEMPTS_LIMIT, Endpoint, WebhookDispatcher


class WebhookSource(Protocol):
    """What a provider module offers the webhook control routes."""

    @property
    def dispatcher(self) -> WebhookDispatcher: ...

    def register_endpoint(self, data: dict[str, Any], origin: str) -> tuple[Endpoint, dict[str, Any]]:
        """Validate and register; return the endpoint and the 201 body (may show the secret once).
        `origin` is the sandbox's base URL as the caller reached it (for URLs inside deliveries)."""
        ...

    def events(self) -> list[dict[str, Any]]: ...

    def event_on_demand(self, event_type: str, object_id: str, deliver: bool) -> dict[str, Any]:
        """A new event of `event_type` about the current state of `object_id` (ControlError if not),
        delivered in the background to interested endpoints when `deliver`."""
        ...


def endpoint_options(data: dict[str, Any]) -> dict[str, Any]:
    """The provider-neutral endpoint fields: url, enabled_events, max_attempts, retry_delay_ms."""
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ControlError(400, "invalid_field", "url must be an http(s) URL")
    events = data.get("enabled_events", ["*"])
    if not isinstance(events, list) or not events or not all(isinstance(e, str) and e for e in events):
        raise ControlError(400, "invalid_field", "enabled_events must be a non-empty list of event types")
    attempts = data.get("max_attempts", 3)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
        raise ControlError(400, "invalid_field", f"max_attempts must be an integer from 1 to {MAX_ATTEMPTS_LIMIT}")
    delay = data.get("retry_delay_ms", 200)
    if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= 10_000:
        raise ControlError(400, "invalid_field", "retry_delay_ms must be an integer from 0 to 10000")
    return {"url": url, "enabled_events": tuple(events), "max_attempts": attempts, "retry_delay_ms": delay}


class WebhookControl:
    """The webhook control routes of one provider; `routes()` is their table."""

    def __init__(self, source: WebhookSource) -> None:
        self.source = source

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("POST", "/webhooks", self.register),
            Route("GET", "/webhooks", self.list_endpoints),
            Route("DELETE", "/webhooks/{endpoint_id}", self.delete_endpoint),
            Route("GET", "/events", self.list_events),
            Route("POST", "/events", self.create_event),
            Route("POST", "/webhooks/deliver", self.deliver),
            Route("GET", "/webhooks/deliveries", self.deliveries),
            Route("POST", "/webhooks/drain", self.drain),
        ]

    def endpoint_of(self, endpoint_id: Any) -> Endpoint:
        endpoints = self.source.dispatcher.endpoints
        if endpoint_id is None and len(endpoints) == 1:
            return next(iter(endpoints.values()))
        if not isinstance(endpoint_id, str) or endpoint_id not in endpoints:
            raise ControlError(404, "not_found", f"no webhook endpoint {endpoint_id!r} (give endpoint_id)")
        return endpoints[endpoint_id]

    def event_of(self, event_id: Any) -> dict[str, Any]:
        for event in self.source.events():
            if event.get("id") == event_id:
                return event
        raise ControlError(404, "not_found", f"no event {event_id!r}")

    async def register(self, request: Request) -> Response:
        _, body = self.source.register_endpoint(await control_body(request), str(request.base_url).rstrip("/"))
        return json_response(body, 201)

    async def list_endpoints(self) -> Response:
        return json_response([e.to_json() for e in self.source.dispatcher.endpoints.values()])

    async def delete_endpoint(self, endpoint_id: str) -> Response:
        if self.source.dispatcher.endpoints.pop(endpoint_id, None) is None:
            raise ControlError(404, "not_found", f"no webhook endpoint {endpoint_id}")
        return Response(status_code=204)

    async def list_events(self, type: str | None = None) -> Response:
        return json_response([e for e in self.source.events() if type in (None, e.get("type"), e.get("event_type"))])

    async def create_event(self, request: Request) -> Response:
        data = await control_body(request)
        event_type, object_id = data.get("type"), data.get("object_id")
        if not isinstance(event_type, str) or not isinstance(object_id, str):
            raise ControlError(400, "invalid_field", "type and object_id must be strings")
        event = self.source.event_on_demand(event_type, object_id, bool(data.get("deliver", True)))
        return json_response(event, 201)

    async def deliver(self, request: Request) -> Response:
        data = await control_body(request)
        endpoint = self.endpoint_of(data.get("endpoint_id"))
        ids = data.get("event_ids")
        if not isinstance(ids, list) or not ids:
            raise ControlError(400, "invalid_field", "event_ids must be a non-empty list of event ids")
        events = [self.event_of(event_id) for event_id in ids]
        order = data.get("order", "as_given")
        if order not in ("as_given", "reversed"):
            raise ControlError(400, "invalid_field", "order must be as_given or reversed")
        times = data.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 20:
            raise ControlError(400, "invalid_field", "times must be an integer from 1 to 20")
        variant = data.get("variant", "valid")
        variants = self.source.dispatcher.signer.variants
        if variant not in variants:
            raise ControlError(400, "invalid_field", f"variant must be one of {list(variants)}")
        ordered = list(reversed(events)) if order == "reversed" else events
        attempts = await self.source.dispatcher.deliver_now(
            endpoint, ordered, times, variant, retry=bool(data.get("retry", True))
        )
        return json_response({"attempts": [a.__dict__ for a in attempts]})

    async def deliveries(self, endpoint_id: str | None = None, event_id: str | None = None) -> Response:
        return json_response(self.source.dispatcher.log(endpoint_id, event_id))

    async def drain(self) -> Response:
        return json_response({"drained": await self.source.dispatcher.drain()})
