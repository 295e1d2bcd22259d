"""Stripe simulator: the accounts and their secret keys, the webhook dispatcher, events (emit),
errors and rate limits in Stripe's envelope. routes.py serves the v1 API (its handlers see the
simulator only as an `Emitter`/`StripeApi` protocol), control.py the control routes.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator
from provider_sandbox.core.routing import mount
from provider_sandbox.core.tenants import TenantSpec, stable_uuid
from provider_sandbox.core.webhooks import WebhookDispatcher
from provider_sandbox.providers.stripe.control import StripeControl
from provider_sandbox.providers.stripe.routes import ROUTES, StripeRoutes
from provider_sandbox.providers.stripe.seed import seed_account
from provider_sandbox.providers.stripe.signing import StripeSigner
from provider_sandbox.providers.stripe.store import Account, Call, expand, new_id
from provider_sandbox.providers.stripe.wire import StripeError


class StripeSimulator(ProviderSimulator):
    name = "stripe"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="USD", country="US")  # unused: accounts instead
    tenant_names: ClassVar[tuple[str, str]] = ("NextCRM Sandbox (US)", "NextCRM Sandbox Secondary")

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.accounts: dict[str, Account] = {}
        self._keys: dict[str, Account] = {}
        self._dispatcher: WebhookDispatcher | None = None

    # --- state -----------------------------------------------------------------------------------

    @property
    def dispatcher(self) -> WebhookDispatcher:
        assert self._dispatcher is not None
        return self._dispatcher

    def reset(self) -> None:

        if self._dispatcher is not None:
            self._dispatcher.cancel_all()
        self._dispatcher = WebhookDispatcher(
            "stripe", self.sandbox.clock, StripeSigner(), "we_", ca_bundle=self.sandbox.config.webhook_ca_bundle
        )
        self.accounts, self._keys = {}, {}
        config = self.sandbox.config.payments
        self.create_account("default", config.stripe_secret_key, config.stripe_charges, config.stripe_customers)
        self.create_account("secondary", config.stripe_secondary_secret_key, 25, 5)

    def create_account(self, label: str, secret_key: str | None, charges: int, customers: int) -> Account:

        key = secret_key or f"sk_test_{secrets.token_urlsafe(32)}"
        account = Account(
            id=new_id("acct", f"stripe/{label}")[:21],
            secret_keys=(key,),
            api_version=self.sandbox.config.payments.stripe_api_version,
        )
        seed_account(account, customers, charges)
        self.accounts[account.id] = account
        self._keys[key] = account
        return account

    def key_in_use(self, key: str) -> bool:
        return key in self._keys

    def account_for_key(self, secret_key: str) -> Account | None:
        return self._keys.get(secret_key)

    def default_account(self) -> Account:
        return next(iter(self.accounts.values()))

    def find_object(self, object_id: str) -> tuple[Account, dict[str, Any]] | None:
        for account in self.accounts.values():
            if object_id in account.objects:
                return account, account.objects[object_id]
        return None

    def now(self) -> int:
        return int(self.sandbox.clock.now().timestamp())

    def emit(
        self,
        call: Call | None,
        account: Account,
        event_type: str,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """Record an event about `obj` as it is now and deliver it to the account's endpoints."""
        data: dict[str, Any] = {"object": expand(account, obj, [])}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": account.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(self.dispatcher.matching(account.id, event_type)),
            "request": {
                "id": call.request_id if call else None,
                "idempotency_key": call.idempotency_key if call else None,
            },
            "type": event_type,
        }
        account.add(event)
        if deliver:
            self.dispatcher.dispatch(event, account.id)
        return event

    # --- routes ---------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        return mount(APIRouter(), ROUTES, StripeRoutes(self).endpoint)

    def control_router(self) -> APIRouter:
        return mount(APIRouter(), StripeControl(self).routes())

    # --- wire format -----------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        if status in (404, 405):
            return StripeError(
                404,
                f"Unrecognized request URL ({message}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
            ).response()
        if status >= 500:
            return StripeError(status, message, type="api_error").response()
        return StripeError(status, message).response()

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else None
        message = rule.message or (
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
        )
        return StripeError(429, message, code="rate_limit", headers=headers).response()

    def page_number(self, request: Request) -> int | None:
        return None  # Stripe pages by cursor, not number
