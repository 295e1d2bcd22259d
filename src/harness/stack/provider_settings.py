"""Where the local stack's service reaches each provider: the provider sandbox, unless the developer points
the provider elsewhere (its test mode, another fake) in the environment or the project's `.env`.

A provider is switched as a whole: setting any one of its settings (a base URL or a credential) takes all of
that provider's settings from the developer and, for those left unset, the service's own defaults (the
provider's real hosts), never the sandbox's. No provider runs half against the sandbox and half elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from harness.core.paths import PROJECT_ROOT
from harness.core.settings import stage_env_file
from harness.core.stages import StageError
from integration_service.settings import Settings


class ProviderSettingsError(StageError):
    """A provider pointed away from the sandbox without all it needs; names settings, never their values."""


@dataclass(frozen=True)
class Provider:
    name: str
    required: tuple[str, ...]  # an external provider cannot work without these
    optional: tuple[str, ...]  # unset: the service's default, the provider's real host
    endpoint: str  # the base URL shown as where the provider is reached
    live_endpoint: str | None = None  # PayPal: the one used instead when PAYPAL_MODE=live (Settings.paypal_base_url)

    @property
    def settings(self) -> tuple[str, ...]:
        return self.required + self.optional

    def endpoint_url(self, chosen: Mapping[str, str]) -> str:
        """Where the service reaches this provider with `chosen` settings (the service's default if unset)."""
        name = self.live_endpoint if self.live_endpoint and chosen.get("PAYPAL_MODE") == "live" else self.endpoint
        return chosen.get(name) or str(Settings.model_fields[name.lower()].default)


PROVIDERS = (
    Provider(
        "Xero",
        required=("XERO_CLIENT_ID", "XERO_CLIENT_SECRET"),
        optional=("XERO_LOGIN_BASE_URL", "XERO_IDENTITY_BASE_URL", "XERO_API_BASE_URL"),
        endpoint="XERO_API_BASE_URL",
    ),
    Provider(
        "MYOB",
        required=("MYOB_CLIENT_ID", "MYOB_CLIENT_SECRET"),
        optional=("MYOB_SECURE_BASE_URL", "MYOB_API_BASE_URL"),
        endpoint="MYOB_API_BASE_URL",
    ),
    Provider(
        "QuickBooks",
        required=("QUICKBOOKS_CLIENT_ID", "QUICKBOOKS_CLIENT_SECRET"),
        optional=("QUICKBOOKS_APPCENTER_BASE_URL", "QUICKBOOKS_OAUTH_BASE_URL", "QUICKBOOKS_API_BASE_URL"),
        endpoint="QUICKBOOKS_API_BASE_URL",
    ),
    # Stripe's and PayPal's API credentials belong to each integration (apiKey, apiSecret). The service's own
    # are its webhook's, which the sandbox registers by itself and a real provider's dashboard must give.
    Provider(
        "Stripe",
        required=("STRIPE_WEBHOOK_SECRETS",),
        optional=("STRIPE_API_BASE_URL",),
        endpoint="STRIPE_API_BASE_URL",
    ),
    Provider(
        "PayPal",
        required=("PAYPAL_WEBHOOK_ID",),
        optional=("PAYPAL_MODE", "PAYPAL_SANDBOX_BASE_URL", "PAYPAL_LIVE_BASE_URL", "PAYPAL_CERT_URL_PREFIXES"),
        endpoint="PAYPAL_SANDBOX_BASE_URL",
        live_endpoint="PAYPAL_LIVE_BASE_URL",
    ),
    # Mautic is self-hosted: without its URL the service does not offer it at all.
    Provider(
        "Mautic",
        required=("MAUTIC_CLIENT_ID", "MAUTIC_CLIENT_SECRET", "MAUTIC_BASE_URL"),
        optional=(),
        endpoint="MAUTIC_BASE_URL",
    ),
)
PROVIDER_SETTINGS = frozenset(name for provider in PROVIDERS for name in provider.settings)


@dataclass(frozen=True)
class ProviderSettings:
    """The service's provider settings, and the providers that are not the sandbox."""

    env: dict[str, str] = field(repr=False)  # holds client secrets and webhook secrets: never shown
    external: dict[str, str]  # provider name -> the base URL it is reached at (printable)


def user_environment(project_root: Path = PROJECT_ROOT) -> dict[str, str]:
    """The developer's provider settings as the service reads them: the environment over the project's `.env`,
    names in upper case (the service ignores their case). An empty value counts as unset."""
    from_file = dotenv_values(stage_env_file("local", project_root))
    merged = {**_upper(from_file), **_upper(os.environ)}
    return {name: value for name, value in merged.items() if name in PROVIDER_SETTINGS and value}


def _upper(values: Mapping[str, str | None]) -> dict[str, str]:
    return {name.upper(): value for name, value in values.items() if value}


def chosen_settings(provider: Provider, user_env: Mapping[str, str]) -> dict[str, str]:
    """The settings of `provider` the developer set (empty: the provider stays the sandbox)."""
    return {name: user_env[name] for name in provider.settings if user_env.get(name)}


def external_endpoints(user_env: Mapping[str, str]) -> dict[str, str]:
    """Provider name -> where it is reached, for each provider the developer points away from the sandbox."""
    endpoints = {}
    for provider in PROVIDERS:
        chosen = chosen_settings(provider, user_env)
        if chosen:
            endpoints[provider.name] = printable_endpoint(provider.endpoint_url(chosen))
    return endpoints


def provider_settings(sandbox_env: Mapping[str, str], user_env: Mapping[str, str]) -> ProviderSettings:
    """Each provider's settings from the developer when they set any of them (`user_env`), else from the
    sandbox (`sandbox_env`, see `harness.stack.local.sandbox_service_env`). A provider the developer chose
    but left without a required setting is refused, naming every missing one."""
    env: dict[str, str] = {}
    missing: list[str] = []
    for provider in PROVIDERS:
        chosen = chosen_settings(provider, user_env)
        if chosen:
            missing += _missing(provider, chosen)
            env.update(chosen)
        else:
            env.update({name: value for name, value in sandbox_env.items() if name in provider.settings})
    if missing:
        raise ProviderSettingsError(
            "; ".join(missing) + ". Set them (environment or .env; INTEGRATIONS.md says where each comes from), "
            "or unset that provider's settings to use the sandbox"
        )
    return ProviderSettings(env=env, external=external_endpoints(user_env))


def _missing(provider: Provider, chosen: Mapping[str, str]) -> list[str]:
    absent = [name for name in provider.required if name not in chosen]
    if not absent:
        return []
    return [f"{provider.name} is pointed away from the sandbox (by {', '.join(chosen)}) without {', '.join(absent)}"]


def printable_endpoint(url: str) -> str:
    """A base URL without the user, password, query or fragment it might carry: fit for a terminal or a report."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def external_providers_note(user_env: Mapping[str, str]) -> list[str]:
    """The release report's line on a local run's providers: none when every one was the sandbox."""
    endpoints = external_endpoints(user_env)
    if not endpoints:
        return []
    where = ", ".join(f"{name} at {url}" for name, url in endpoints.items())
    return [f"Providers outside the sandbox (set in the environment or .env): {where}; the sandbox played the rest."]
