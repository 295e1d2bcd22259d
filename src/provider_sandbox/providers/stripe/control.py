"""The Stripe control routes under `/_sandbox/stripe`: test accounts and the shared webhook routes.
Webhook signing itself is in signing.py.

    GET  /accounts                    [{"id", "secret_key_hint", "charges", "customers", "default"}]
    POST /accounts                    {"charges": 1200, "customers": 10, "secret_key": "sk_test_..."?}
                                      -> 201 {"id", "secret_key", ...} (the key is shown once)
    + the webhook routes of core/webhook_control.py; register with {"url", "secret"?, "account"?,
      "enabled_events"?, "max_attempts"?, "retry_delay_ms"?} -> 201 {"id": "we_...", "secret": "whsec_..."}
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.control_fields import ControlError, control_body, control_count
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.hints import hint
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.webhook_control import WebhookControl, endpoint_options
from provider_sandbox.core.webhooks import Endpoint, WebhookDispatcher
from provider_sandbox.providers.stripe.store import Account, Emitter

MAX_SEED_CHARGES = 100_000

# Which object type each on-demand event type is about.
_EVENT_OBJECTS = {
    "charge.": "charge",
    "customer.subscription.": "subscription",
    "payment_intent.": "payment_intent",
    "refund.": "refund",
    "customer.": "customer",
}


class StripeAccounts(Emitter, Protocol):
    """What the Stripe control routes need from the simulator."""

    @property
    def accounts(self) -> dict[str, Account]: ...

    @property
    def dispatcher(self) -> WebhookDispatcher: ...

    def default_account(self) -> Account: ...

    def key_in_use(self, key: str) -> bool: ...

    def create_account(self, label: str, secret_key: str | None, charges: int, customers: int) -> Account: ...

    def find_object(self, object_id: str) -> tuple[Account, dict[str, Any]] | None: ...


class StripeWebhooks:
    """The `WebhookSource` the shared control routes drive."""

    def __init__(self, sim: StripeAccounts) -> None:
        self.sim = sim

    @property
    def dispatcher(self) -> WebhookDispatcher:
        return self.sim.dispatcher

    def register_endpoint(self, data: dict[str, Any], origin: str) -> tuple[Endpoint, dict[str, Any]]:
        options = endpoint_options(data)
        secret = data.get("secret") or f"whsec_{secrets.token_urlsafe(32)}"
        if not isinstance(secret, str) or not secret.startswith("whsec_"):
            raise ControlError(400, "invalid_field", "secret must be a string starting with whsec_")
        account_id = data.get("account") or self.sim.default_account().id
        if account_id not in self.sim.accounts:
            raise ControlError(404, "not_found", f"no Stripe account {account_id!r}")
        endpoint = self.dispatcher.register(options.pop("url"), secret, account_id, **options)
        return endpoint, {**endpoint.to_json(with_secret=True), "account": account_id}

    def events(self) -> list[dict[str, Any]]:
        return [e for a in self.sim.accounts.values() for e in reversed(a.all("event"))]

    def event_on_demand(self, event_type: str, object_id: str, deliver: bool) -> dict[str, Any]:
        found = self.sim.find_object(object_id)
        if found is None:
            raise ControlError(404, "not_found", f"no Stripe object {object_id!r}")
        account, obj = found
        wanted = next((kind for prefix, kind in _EVENT_OBJECTS.items() if event_type.startswith(prefix)), None)
        if wanted != obj["object"]:
            raise ControlError(400, "invalid_field", f"{event_type} is not about a {obj['object']} ({object_id})")
        return self.sim.emit(None, account, event_type, obj, deliver=deliver)


def _account_json(sim: StripeAccounts, account: Account, with_key: bool = False) -> dict[str, Any]:
    key = account.secret_keys[0]
    return {
        "id": account.id,
        "secret_key": key if with_key else None,
        "secret_key_hint": hint(key),
        "charges": len(account.by_type.get("charge", [])),
        "customers": len(account.by_type.get("customer", [])),
        "default": account.id == sim.default_account().id,
    }


class StripeControl:
    """Test accounts plus the shared webhook routes; `routes()` is their table."""

    def __init__(self, sim: StripeAccounts) -> None:
        self.sim = sim

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/accounts", self.list_accounts),
            Route("POST", "/accounts", self.create_account),
            *WebhookControl(StripeWebhooks(self.sim)).routes(),
        ]

    async def list_accounts(self) -> Response:
        return json_response([_account_json(self.sim, a) for a in self.sim.accounts.values()])

    async def create_account(self, request: Request) -> Response:
        data = await control_body(request)
        sizes = {
            name: control_count(data, name, default, MAX_SEED_CHARGES)
            for name, default in (("charges", 0), ("customers", 5))
        }
        key = data.get("secret_key")
        if key is not None and (not isinstance(key, str) or not key.startswith("sk_test_")):
            raise ControlError(400, "invalid_field", "secret_key must be a string starting with sk_test_")
        if key is not None and self.sim.key_in_use(key):
            raise ControlError(409, "conflict", "that secret_key already belongs to an account")
        account = self.sim.create_account(
            f"created-{len(self.sim.accounts) + 1}-{secrets.token_hex(4)}", key, sizes["charges"], sizes["customers"]
        )
        return json_response(_account_json(self.sim, account, with_key=True), 201)
