"""Tenants (Xero organisations, MYOB company files, QuickBooks realms) and their mutable data."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from provider_sandbox.core.seed import Contact, Invoice, LineItem, make_contact, make_invoice

_NAMESPACE = uuid.UUID("5f1b7a0e-9a43-4c1f-9d61-0c7f3a2e8b11")


def stable_uuid(label: str) -> str:
    """A UUID that is the same on every run for the same label (used for tenant ids)."""
    return str(uuid.uuid5(_NAMESPACE, label))


def stable_realm_id(label: str) -> str:
    """A 16-digit QuickBooks-style realm id, stable for the same label."""
    digest = int(hashlib.sha256(label.encode()).hexdigest(), 16)
    return str(9_130_000_000_000_000 + digest % 10**15)


@dataclass
class Tenant:
    provider: str
    tenant_id: str
    name: str
    currency: str
    country: str
    created_at: datetime
    invoices: list[Invoice] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)

    def resize(self, invoices: int, contacts: int) -> None:
        """Grow or shrink deterministically: record i is always the same record i."""
        self.contacts = self.contacts[:contacts] + [
            make_contact(self.tenant_id, seq) for seq in range(len(self.contacts) + 1, contacts + 1)
        ]
        self.invoices = self.invoices[:invoices] + [
            make_invoice(self.tenant_id, seq, contacts, self.currency)
            for seq in range(len(self.invoices) + 1, invoices + 1)
        ]

    def contact(self, seq: int) -> Contact:
        if 1 <= seq <= len(self.contacts):
            return self.contacts[seq - 1]
        return make_contact(self.tenant_id, seq)  # invoices of a tenant seeded with no contacts

    def latest_change(self) -> datetime:
        stamps = [inv.updated_at for inv in self.invoices] + [c.updated_at for c in self.contacts]
        return max(stamps, default=self.created_at)

    def mutate(self, now: datetime, modify: int, add: int, modify_contacts: int) -> Mutation:
        """Touch the first `modify` invoices (oldest by sequence) and append `add` new ones.

        Changed records get a timestamp strictly after every existing one, so an incremental
        sync that asks for "changed since my last sync" must see exactly these records.
        """
        stamp = max(now, self.latest_change() + timedelta(milliseconds=1))
        modified = self.invoices[:modify]
        for invoice in modified:
            invoice.updated_at = stamp
            invoice.version += 1
            invoice.reference = f"{invoice.reference.split(' rev')[0]} rev{invoice.version}"
            invoice.lines.append(LineItem(description=f"Adjustment {invoice.version}", quantity=1.0, unit_amount=10.0))
            if invoice.status == "DRAFT":
                invoice.status = "AUTHORISED"
        touched_contacts = self.contacts[:modify_contacts]
        for contact in touched_contacts:
            contact.updated_at = stamp
            contact.version += 1
            contact.phone = f"{contact.phone[:-1]}{contact.version % 10}"
        added = []
        for seq in range(len(self.invoices) + 1, len(self.invoices) + add + 1):
            invoice = make_invoice(self.tenant_id, seq, len(self.contacts), self.currency)
            invoice.created_at = invoice.updated_at = stamp
            invoice.issued = stamp.date()
            invoice.due = invoice.issued + timedelta(days=30)
            invoice.status, invoice.paid_on = "AUTHORISED", None
            self.invoices.append(invoice)
            added.append(invoice)
        return Mutation(modified=modified, added=added, contacts=touched_contacts, stamp=stamp)


@dataclass(frozen=True)
class Mutation:
    """What `Tenant.mutate` changed, for the control API to report in provider vocabulary."""

    modified: list[Invoice]
    added: list[Invoice]
    contacts: list[Contact]
    stamp: datetime


@dataclass(frozen=True)
class TenantSpec:
    """How a provider names and identifies its tenants."""

    id_factory: Callable[[str], str]
    currency: str
    country: str


class TenantStore:
    """All tenants of all providers; the first tenant created for a provider is its default."""

    def __init__(self) -> None:
        self._tenants: dict[str, dict[str, Tenant]] = {}

    def create(
        self,
        provider: str,
        spec: TenantSpec,
        label: str,
        name: str,
        now: datetime,
        invoices: int,
        contacts: int,
    ) -> Tenant:
        tenant_id = spec.id_factory(f"{provider}/{label}")
        tenant = Tenant(
            provider=provider,
            tenant_id=tenant_id,
            name=name,
            currency=spec.currency,
            country=spec.country,
            created_at=now,
        )
        tenant.resize(invoices, contacts)
        self._tenants.setdefault(provider, {})[tenant_id] = tenant
        return tenant

    def get(self, provider: str, tenant_id: str) -> Tenant | None:
        return self._tenants.get(provider, {}).get(tenant_id)

    def default(self, provider: str) -> Tenant | None:
        tenants = self._tenants.get(provider, {})
        return next(iter(tenants.values()), None)

    def of(self, provider: str) -> list[Tenant]:
        return list(self._tenants.get(provider, {}).values())

    def all(self) -> list[Tenant]:
        return [tenant for tenants in self._tenants.values() for tenant in tenants.values()]
