"""Sizes and credentials of the marketing simulators (BillionMail, Mautic), read from the environment.

Kept apart from config.py so the marketing providers add one field to `SandboxConfig` instead of
a dozen. Every default is a sandbox-only value, never a real credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from provider_sandbox.core.payments_config import env_size


@dataclass(frozen=True)
class MarketingConfig:
    # The API key of the default BillionMail instance (Settings -> API in the real product).
    billionmail_api_key: str = "sandbox-billionmail-api-key"
    # 600 tasks = more than one 500-item page, so paging code is always exercised.
    billionmail_tasks: int = 600
    billionmail_contacts: int = 200  # distinct addresses spread over overlapping groups
    mautic_campaigns: int = 550
    mautic_contacts: int = 120
    # Secondary (and control-API-created) instances stay small.
    secondary_campaigns: int = 12
    secondary_contacts: int = 20


def marketing_config_from_env(env: Mapping[str, str]) -> MarketingConfig:
    key = env.get("SANDBOX_BILLIONMAIL_API_KEY", "").strip()
    return MarketingConfig(
        billionmail_api_key=key or MarketingConfig.billionmail_api_key,
        billionmail_tasks=env_size(env, "SANDBOX_BILLIONMAIL_TASKS", 600),
        billionmail_contacts=env_size(env, "SANDBOX_BILLIONMAIL_CONTACTS", 200),
        mautic_campaigns=env_size(env, "SANDBOX_MAUTIC_CAMPAIGNS", 550),
        mautic_contacts=env_size(env, "SANDBOX_MAUTIC_CONTACTS", 120),
    )
