""" "The provider" as the scenarios drive it: one interface, two implementations.

- `SandboxStripe`: the provider sandbox's control API (`/_sandbox/stripe/...`) makes each scenario a
  fresh Stripe account, with past charges when asked, and a webhook endpoint of that account that signs
  with the stage's secret and delivers only when the scenario asks.
- `StripeTestMode`: a real Stripe account in test mode (the stage's `STRIPE_TEST_SECRET_KEY`, at
  `STRIPE_API_BASE`, through the official `stripe` SDK). The scenario's customers, prices and charges
  are made there; it cannot make a fresh account nor deliver an event on demand, so the scenarios that
  need either are tagged `@sandbox` and skipped on a stage without the sandbox.

Either way the merchant's own calls (what Stripe holds, refunds made at Stripe) go through
`StripeAccount.merchant`, never through the service.
"""

from __future__ import annotations

from typing import Protocol

import httpx
import pytest
import stripe

from harness.core.tls import client_verify
from steps.common import NO_SANDBOX, World
from steps.support.payments import NEVER_SENT, StripeAccount, expect

NO_STRIPE = "needs a Stripe provider: the stage has neither SANDBOX_URL nor STRIPE_TEST_SECRET_KEY"


class StripeProvider(Protocol):
    def new_account(self, charges: int) -> StripeAccount:
        """An account for the scenario, holding `charges` past charges and nothing else of the scenario's."""
        ...


class SandboxStripe:
    def __init__(self, world: World, request: pytest.FixtureRequest) -> None:
        self.world, self.request = world, request

    def new_account(self, charges: int) -> StripeAccount:
        world, secret = self.world, self.world.target.stripe_webhook_secret
        if not secret:
            pytest.fail("the stage's Stripe webhook secret (QA_STRIPE_WEBHOOK_SECRET) is not set")
        control = world.sandbox()
        created = expect(control.post("/stripe/accounts", json={"charges": charges, "customers": 2}), 201, "an account")
        endpoint = {
            "url": f"{world.target.service_url}/api/integrations/stripe/webhook",
            "secret": secret,
            "account": created["id"],
            "enabled_events": [NEVER_SENT],
            "max_attempts": 1,
        }
        endpoint_id = expect(control.post("/stripe/webhooks", json=endpoint), 201, "a Stripe webhook endpoint")["id"]
        # `control` is still open when this finaliser runs: the world is torn down after it.
        self.request.addfinalizer(lambda: control.delete(f"/stripe/webhooks/{endpoint_id}"))
        merchant = _merchant(self.request, world, created["secret_key"], f"{world.sandbox_url()}/stripe")
        return StripeAccount(created["secret_key"], merchant, endpoint_id)


class StripeTestMode:
    def __init__(self, world: World, request: pytest.FixtureRequest, secret_key: str) -> None:
        if not secret_key.startswith("sk_test_"):
            pytest.fail("STRIPE_TEST_SECRET_KEY must be a test-mode key (sk_test_...): scenarios never touch live")
        self.world, self.request, self.secret_key = world, request, secret_key

    def new_account(self, charges: int) -> StripeAccount:
        if charges:
            pytest.fail(f"a Stripe test-mode account cannot be made fresh with past charges ({NO_SANDBOX})")
        base = self.world.target.stripe_api_base or stripe.DEFAULT_API_BASE
        return StripeAccount(self.secret_key, _merchant(self.request, self.world, self.secret_key, base))


def stripe_provider(world: World, request: pytest.FixtureRequest) -> StripeProvider:
    """The sandbox when the stage has it, else the stage's Stripe test-mode account, else a skip."""
    if world.target.sandbox_url is not None:
        return SandboxStripe(world, request)
    if world.target.stripe_test_secret_key:
        return StripeTestMode(world, request, world.target.stripe_test_secret_key)
    pytest.skip(NO_STRIPE)


def _merchant(request: pytest.FixtureRequest, world: World, secret_key: str, api_base: str) -> stripe.StripeClient:
    """The official SDK with the account's key at `api_base`, trusting what the scenarios trust."""
    http = stripe.HTTPXClient(allow_sync_methods=True)
    # The SDK's only trust setting is the process-wide `stripe.ca_bundle_path`: its sync client is
    # swapped for one that also trusts the stage's CA bundle instead of changing that global.
    if http._client is not None:
        http._client.close()
    http._client = httpx.Client(verify=client_verify(world.target.ca_bundle))
    request.addfinalizer(http.close)
    return stripe.StripeClient(secret_key, base_addresses={"api": api_base}, http_client=http)
