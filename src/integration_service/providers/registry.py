"""The providers by URL slug and by integration type."""

from __future__ import annotations

from integration_service.providers.base import AccountingProvider
from integration_service.providers.myob import Myob
from integration_service.providers.quickbooks import QuickBooks
from integration_service.providers.xero import Xero
from integration_service.settings import Settings

ACCOUNTING_PROVIDERS: tuple[type[AccountingProvider], ...] = (Xero, Myob, QuickBooks)


def accounting_providers(settings: Settings) -> dict[str, AccountingProvider]:
    """One instance of each accounting provider, keyed by integration type (XERO, MYOB, QUICKBOOKS)."""
    return {cls.integration_type: cls(settings) for cls in ACCOUNTING_PROVIDERS}
