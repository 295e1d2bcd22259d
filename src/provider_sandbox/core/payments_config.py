"""Keys and seed sizes of the payment simulators (Stripe, PayPal), read from the environment.

Kept apart from config.py so the payment providers add one field to `SandboxConfig`. Every default
is a sandbox-only value, never a real credential. (PayPal's REST app client id/secret live with
the other OAuth clients: SANDBOX_PAYPAL_CLIENT_ID / SANDBOX_PAYPAL_CLIENT_SECRET.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentsConfig:
    # Secret API keys of the default and the secondary Stripe account.
    stripe_secret_key: str = "sk_test_sandbox_default_51Sandbox"  # noqa: S105 - a sandbox-only value
    stripe_secondary_secret_key: str = "sk_test_sandbox_secondary_51Sandbox"  # noqa: S105
    # 1,200 charges = twelve full pages at Stripe's maximum limit of 100.
    stripe_charges: int = 1200
    stripe_customers: int = 40
    # The API version stamped on events (Stripe uses the account's or the endpoint's version).
    stripe_api_version: str = "2024-06-20"
    # Completed PayPal v1 payments in the history (count is at most 20 per page).
    paypal_payments: int = 45


def env_size(env: Mapping[str, str], name: str, default: int) -> int:
    """A seed size from the environment (0..100000); unset or blank keeps the default. Shared by every seed config."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if not 0 <= value <= 100_000:
        raise ValueError(f"{name} must be between 0 and 100000, got {value}")
    return value


def payments_config_from_env(env: Mapping[str, str]) -> PaymentsConfig:
    defaults = PaymentsConfig()
    return PaymentsConfig(
        stripe_secret_key=env.get("SANDBOX_STRIPE_SECRET_KEY", "").strip() or defaults.stripe_secret_key,
        stripe_secondary_secret_key=env.get("SANDBOX_STRIPE_SECONDARY_SECRET_KEY", "").strip()
        or defaults.stripe_secondary_secret_key,
        stripe_charges=env_size(env, "SANDBOX_STRIPE_SEED_CHARGES", defaults.stripe_charges),
        stripe_customers=env_size(env, "SANDBOX_STRIPE_SEED_CUSTOMERS", defaults.stripe_customers),
        stripe_api_version=env.get("SANDBOX_STRIPE_API_VERSION", "").strip() or defaults.stripe_api_version,
        paypal_payments=env_size(env, "SANDBOX_PAYPAL_SEED_PAYMENTS", defaults.paypal_payments),
    )
