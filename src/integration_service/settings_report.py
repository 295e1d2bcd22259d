"""What the running service says about its own configuration: each setting a deployed stage needs, by
name, with whether it is set and usable. Never a value: the QA runner checks a stage's configuration
through this report instead of holding the service's secrets itself.

`missing`: not set although a deployed stage needs it. `invalid`: set, but refused by the rules of the
stage the service runs in (the ones `Settings.unsafe_outside_local` applies, plus production's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from integration_service.build import UNKNOWN
from integration_service.settings import OPTIONAL_BASE_URLS, Settings

SettingStatus = Literal["ok", "missing", "invalid"]

# OAuth apps of the accounting providers: a deployment that offers them needs both halves.
_PROVIDER_CREDENTIALS = ("XERO", "MYOB", "QUICKBOOKS")


@dataclass(frozen=True)
class SettingCheck:
    name: str
    status: SettingStatus
    problem: str | None = None


def settings_report(settings: Settings) -> list[SettingCheck]:
    """One entry per setting, in a stable order; an entry's problem is the first that applies to it."""
    problems: dict[str, tuple[SettingStatus, str]] = {}
    for name, problem in _missing(settings):
        problems.setdefault(name, ("missing", problem))
    for name, problem in _invalid(settings):
        problems.setdefault(name, ("invalid", problem))
    names = ["DATABASE_URL", "ENCRYPTION_KEYS", "CORS_ALLOWED_ORIGINS", "PUBLIC_URL", "BUILD_SHA"]
    names += [f"{provider}_{part}" for provider in _PROVIDER_CREDENTIALS for part in ("CLIENT_ID", "CLIENT_SECRET")]
    names += ["STRIPE_WEBHOOK_SECRETS", "PAYPAL_MODE", "PAYPAL_WEBHOOK_ID"]
    if settings.mautic_base_url:
        names += ["MAUTIC_CLIENT_ID", "MAUTIC_CLIENT_SECRET"]
    names += [name for name, url in settings.provider_base_urls().items() if url or name not in OPTIONAL_BASE_URLS]
    names += sorted(set(problems) - set(names))  # a rule about a setting not listed above still shows
    return [
        SettingCheck(name, *problems[name]) if name in problems else SettingCheck(name, "ok")
        for name in dict.fromkeys(names)
    ]


def _missing(settings: Settings) -> list[tuple[str, str]]:
    values = {
        "STRIPE_WEBHOOK_SECRETS": bool(settings.stripe_webhook_secrets),
        "PAYPAL_WEBHOOK_ID": bool(settings.paypal_webhook_id),
        "CORS_ALLOWED_ORIGINS": bool(settings.cors_allowed_origins),
    }
    for provider in _PROVIDER_CREDENTIALS:
        secret: SecretStr = getattr(settings, f"{provider.lower()}_client_secret")
        values[f"{provider}_CLIENT_ID"] = bool(getattr(settings, f"{provider.lower()}_client_id"))
        values[f"{provider}_CLIENT_SECRET"] = bool(secret.get_secret_value())
    if settings.mautic_base_url:
        values["MAUTIC_CLIENT_ID"] = bool(settings.mautic_client_id)
        values["MAUTIC_CLIENT_SECRET"] = bool(settings.mautic_client_secret.get_secret_value())
    found = [(name, f"{name} is not set") for name, present in values.items() if not present]
    if settings.build_sha == UNKNOWN:
        found.append(("BUILD_SHA", "BUILD_SHA is not set and the service does not run from a git checkout"))
    return found


def _invalid(settings: Settings) -> list[tuple[str, str]]:
    if settings.stage == "local":  # development defaults are the local stage's point
        return []
    found = settings.unsafe_outside_local()
    if settings.stage == "production" and settings.paypal_mode != "live":
        found.append(("PAYPAL_MODE", "PAYPAL_MODE must be live in production"))
    return found
