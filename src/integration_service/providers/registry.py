"""Every provider the service knows, and the OAuth ones among them."""

from __future__ import annotations

from typing import Any

from integration_service.providers.base import OAuthProvider, SyncProvider
from integration_service.providers.billionmail import BillionMail
from integration_service.providers.mautic import Mautic
from integration_service.providers.myob import Myob
from integration_service.providers.paypal import PayPal
from integration_service.providers.quickbooks import QuickBooks
from integration_service.providers.stripe import Stripe
from integration_service.providers.xero import Xero
from integration_service.settings import Settings

SYNC_PROVIDERS: tuple[type[SyncProvider[Any]], ...] = (Xero, Myob, QuickBooks, Stripe, PayPal, BillionMail, Mautic)


def sync_providers(settings: Settings) -> dict[str, SyncProvider[Any]]:
    """One instance of each provider, keyed by integration type (XERO, MYOB, QUICKBOOKS, ...)."""
    return {cls.integration_type: cls(settings) for cls in SYNC_PROVIDERS}


def oauth_providers(providers: dict[str, SyncProvider[Any]]) -> dict[str, OAuthProvider]:
    """The providers connected through OAuth, keyed by their URL slug."""
    return {p.slug: p for p in providers.values() if isinstance(p, OAuthProvider)}
