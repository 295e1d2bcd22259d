"""What the accounting sync tests need to know about each provider, in one place."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from pydantic import SecretStr

from integration_service.security.encryption import SecretBox
from integration_service.settings import DEVELOPMENT_ENCRYPTION_KEY
from tests.fixtures.service import ApiUser


@dataclass(frozen=True)
class Provider:
    slug: str
    table: str
    key: str
    page_size: int  # records per page as the service asks for them
    listing_path: str  # a substring of the listing request's path, for sandbox faults and request logs

    def __str__(self) -> str:
        return self.slug


XERO = Provider("xero", "xero_invoices", "xero_invoice_id", 100, "/Invoices")
MYOB = Provider("myob", "myob_invoices", "myob_invoice_uid", 400, "/Sale/Invoice")
QUICKBOOKS = Provider("quickbooks", "quickbooks_invoices", "quickbooks_invoice_id", 500, "/query")
PROVIDERS = [XERO, MYOB, QUICKBOOKS]


def sync(user: ApiUser, integration_id: str, data_type: str = "invoices", **options: Any) -> httpx.Response:
    return user.client.post(
        "/api/integrations/sync", json={"integrationId": integration_id, "dataType": data_type, **options}
    )


def stored(sql: psycopg.Connection[tuple[Any, ...]], provider: Provider, integration_id: str) -> tuple[int, int]:
    """(rows, distinct provider ids) stored for one integration."""
    row = sql.execute(
        f"SELECT count(*), count(DISTINCT {provider.key}) FROM {provider.table} WHERE integration_id = %s",  # noqa: S608
        [integration_id],
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def latest_log(sql: psycopg.Connection[tuple[Any, ...]], integration_id: str) -> dict[str, Any]:
    cursor = sql.execute(
        "SELECT status, total_records, synced_records, failed_records, error_message, completed_at "
        "FROM integrations_sync_logs WHERE integration_id = %s ORDER BY created_at DESC LIMIT 1",
        [integration_id],
    )
    names = [column.name for column in cursor.description or []]
    row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def tenants(control: httpx.Client, provider: Provider) -> dict[str, dict[str, Any]]:
    """The sandbox's tenants of a provider by id; the default one is flagged `default`."""
    listed = control.get("/tenants", params={"provider": provider.slug})
    listed.raise_for_status()
    return {tenant["tenant_id"]: tenant for tenant in listed.json()}


def default_tenant(control: httpx.Client, provider: Provider) -> dict[str, Any]:
    return next(tenant for tenant in tenants(control, provider).values() if tenant["default"])


def new_tenant(control: httpx.Client, provider: Provider, invoices: int) -> dict[str, Any]:
    """A tenant of the test's own at the sandbox, with this many invoices."""
    made = control.post("/tenants", json={"provider": provider.slug, "invoices": invoices, "contacts": 1})
    made.raise_for_status()
    tenant: dict[str, Any] = made.json()
    return tenant


def tenant_choice(provider: Provider, tenant_id: str) -> dict[str, str]:
    """`connect` options that pick a tenant other than the default: on the consent page, and in the
    integration's settings where the provider reads it from there (Xero's tenant, MYOB's company file)."""
    return {
        "tenant": tenant_id,
        **({"tenantId": tenant_id} if provider is XERO else {}),
        **({"companyFileId": tenant_id} if provider.slug == "myob" else {}),
    }


def fault(control: httpx.Client, provider: Provider, **rule: Any) -> None:
    control.post("/faults", json={"provider": provider.slug, "path": provider.listing_path, **rule}).raise_for_status()


def listing_requests(control: httpx.Client, provider: Provider, since_seq: int = 0) -> list[dict[str, Any]]:
    requests = control.get(
        "/requests", params={"provider": provider.slug, "path_contains": provider.listing_path, "since_seq": since_seq}
    )
    requests.raise_for_status()
    return list(requests.json())


def last_listing_seq(control: httpx.Client, provider: Provider) -> int:
    """The sequence number of the provider's latest listing request, 0 when none is recorded (yet, or since a reset)."""
    return max((request["seq"] for request in listing_requests(control, provider)), default=0)


def stored_tokens(sql: psycopg.Connection[tuple[Any, ...]], integration_id: str) -> tuple[str, str]:
    """The integration's (access, refresh) tokens, decrypted with the local stage's key."""
    row = sql.execute(
        "SELECT access_token_encrypted, refresh_token_encrypted FROM integrations_credentials WHERE id = %s",
        [integration_id],
    ).fetchone()
    assert row is not None
    box = SecretBox([SecretStr(DEVELOPMENT_ENCRYPTION_KEY)])
    return box.decrypt(row[0]), box.decrypt(row[1])


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sandbox_grants(control: httpx.Client, provider: Provider) -> list[dict[str, Any]]:
    grants = control.get("/tokens", params={"provider": provider.slug})
    grants.raise_for_status()
    return list(grants.json())
