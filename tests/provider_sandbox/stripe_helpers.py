"""Stripe test helpers: the official SDK pointed at the sandbox, and raw form calls."""

from __future__ import annotations

from typing import Any

import httpx
import stripe

DEFAULT_KEY = "sk_test_sandbox_default_51Sandbox"
SECONDARY_KEY = "sk_test_sandbox_secondary_51Sandbox"
SEED_CHARGES = 1200


def sdk(base_url: str, key: str = DEFAULT_KEY, retries: int = 0) -> stripe.StripeClient:
    """The real SDK, unchanged, with its API base swapped for the sandbox's `/stripe` prefix."""
    return stripe.StripeClient(
        key,
        base_addresses={"api": f"{base_url}/stripe"},
        max_network_retries=retries,
    )


def auth(key: str = DEFAULT_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def get(http: httpx.Client, path: str, params: Any = None, key: str = DEFAULT_KEY) -> httpx.Response:
    return http.get(f"/stripe/v1{path}", params=params, headers=auth(key))


def post(
    http: httpx.Client, path: str, data: Any = None, key: str = DEFAULT_KEY, headers: dict[str, str] | None = None
) -> httpx.Response:
    return http.post(f"/stripe/v1{path}", data=data, headers={**auth(key), **(headers or {})})


def paid_intent(http: httpx.Client, amount: int = 5000, method: str = "pm_card_visa") -> dict[str, Any]:
    response = post(
        http,
        "/payment_intents",
        {"amount": amount, "currency": "usd", "payment_method": method, "confirm": "true"},
    )
    assert response.status_code in (200, 402), response.text
    return dict(response.json())
