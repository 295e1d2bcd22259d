"""What PayPal's route handlers (routes.py, plans.py, billing.py, orders.py) need from the simulator, as a protocol, so
neither imports simulator.py (which mounts them)."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.webhooks import WebhookDispatcher
from provider_sandbox.providers.paypal.signing import PayPalSigner

Store = dict[str, dict[str, Any]]


class PayPalApi(Protocol):
    payments: Store
    sales: Store
    plans: Store
    subscriptions: Store
    refunds: Store
    refunded: dict[str, float]  # sale id -> amount refunded so far
    approvals: dict[str, tuple[str, str]]  # checkout token -> (kind, object id)
    # Sandbox bookkeeping kept out of the objects, so that no response can show it:
    approved_payers: dict[str, str]  # payment id -> the payer who approved it (until executed)
    return_urls: dict[str, str]  # subscription or order id -> where its approval redirects
    orders: Store
    captures: Store
    authorizations: Store
    order_requests: dict[str, str]  # "<operation>:<PayPal-Request-Id>" -> the order it made or completed
    events: Store  # webhook event id -> the event exactly as emitted (oldest first)

    @property
    def clock(self) -> SandboxClock: ...

    @property
    def signer(self) -> PayPalSigner: ...

    @property
    def dispatcher(self) -> WebhookDispatcher: ...

    def authorize(self, request: Request) -> None: ...

    def render(self, obj: Any, request: Request, status: int = 200) -> Response: ...

    def emit(
        self, request: Request, event_type: str, resource_type: str, resource: dict[str, Any], summary: str
    ) -> dict[str, Any]: ...
