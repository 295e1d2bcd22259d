"""Sandbox configuration: OAuth clients and data sizes, read once from the environment.

Every value has a safe, documented default so `uvicorn provider_sandbox.app:app_from_env --factory`
works with no environment at all. The defaults are sandbox-only credentials, never real ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from provider_sandbox.core.marketing_config import MarketingConfig, marketing_config_from_env
from provider_sandbox.core.payments_config import PaymentsConfig, payments_config_from_env

PROVIDERS = ("xero", "myob", "quickbooks", "mautic", "paypal")


@dataclass(frozen=True)
class ClientConfig:
    """One registered OAuth application (a provider's "app" / "API key")."""

    provider: str
    client_id: str
    client_secret: str
    # Empty means "any http(s) redirect on localhost / 127.0.0.1", which suits local stacks whose
    # callback port is only known at start-up; a non-empty list is matched exactly, as providers do.
    redirect_uris: tuple[str, ...] = ()
    app_name: str = "NextCRM Sandbox App"


@dataclass(frozen=True)
class XeroLimits:
    """Xero's API call budgets ("OAuth 2.0 API limits"): per app and tenant a minute and a day, per app a minute.

    The defaults are the real ones. A load test or a test tier that calls one organisation more often than a
    real app may, lifts them (SANDBOX_XERO_*_LIMIT, or `PATCH /_sandbox/xero/limits` while running).
    """

    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10_000


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox seeds itself on start and on `POST /_sandbox/reset`."""

    invoices_per_tenant: int = 2500
    contacts_per_tenant: int = 300
    # Each provider also gets a second, small tenant so multi-tenant flows work out of the box.
    secondary_invoices: int = 120
    secondary_contacts: int = 30
    clients: tuple[ClientConfig, ...] = field(default_factory=lambda: default_clients({}))
    max_recorded_requests: int = 5000
    marketing: MarketingConfig = field(default_factory=MarketingConfig)
    payments: PaymentsConfig = field(default_factory=PaymentsConfig)
    # A PEM file trusted, besides the public roots, when delivering webhooks to an HTTPS receiver
    # (a stage whose service has a certificate from a private CA).
    webhook_ca_bundle: str | None = None
    xero_limits: XeroLimits = field(default_factory=XeroLimits)


def default_clients(env: Mapping[str, str]) -> tuple[ClientConfig, ...]:
    """One client per provider; ids/secrets/redirects overridable by SANDBOX_<PROVIDER>_CLIENT_*."""
    clients = []
    for provider in PROVIDERS:
        upper = provider.upper()
        redirects = env.get(f"SANDBOX_{upper}_REDIRECT_URIS", "")
        clients.append(
            ClientConfig(
                provider=provider,
                client_id=env.get(f"SANDBOX_{upper}_CLIENT_ID", f"sandbox-{provider}-client"),
                client_secret=env.get(f"SANDBOX_{upper}_CLIENT_SECRET", f"sandbox-{provider}-secret"),
                redirect_uris=tuple(uri.strip() for uri in redirects.split(",") if uri.strip()),
            )
        )
    return tuple(clients)


def _int_env(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = int(raw)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def xero_limits_from_env(env: Mapping[str, str]) -> XeroLimits:
    # A budget of 0 would refuse every call: not a limit anyone configures on purpose.
    return XeroLimits(
        per_minute=_int_env(env, "SANDBOX_XERO_MINUTE_LIMIT", XeroLimits.per_minute, minimum=1),
        per_day=_int_env(env, "SANDBOX_XERO_DAY_LIMIT", XeroLimits.per_day, minimum=1),
        app_per_minute=_int_env(env, "SANDBOX_XERO_APP_MINUTE_LIMIT", XeroLimits.app_per_minute, minimum=1),
    )


def config_from_env(env: Mapping[str, str] | None = None) -> SandboxConfig:
    """Build the config from environment variables (see README.md for the list)."""
    source = os.environ if env is None else env
    return SandboxConfig(
        invoices_per_tenant=_int_env(source, "SANDBOX_SEED_INVOICES", 2500),
        contacts_per_tenant=_int_env(source, "SANDBOX_SEED_CONTACTS", 300),
        secondary_invoices=_int_env(source, "SANDBOX_SECONDARY_INVOICES", 120),
        secondary_contacts=_int_env(source, "SANDBOX_SECONDARY_CONTACTS", 30),
        clients=default_clients(source),
        max_recorded_requests=_int_env(source, "SANDBOX_MAX_RECORDED_REQUESTS", 5000),
        marketing=marketing_config_from_env(source),
        payments=payments_config_from_env(source),
        webhook_ca_bundle=source.get("SANDBOX_WEBHOOK_CA_BUNDLE") or None,
        xero_limits=xero_limits_from_env(source),
    )
