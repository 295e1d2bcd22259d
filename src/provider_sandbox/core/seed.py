"""Deterministic, provider-neutral business data: invoices and contacts for one tenant.

Record *i* of a tenant comes from a RNG seeded with `(tenant_id, kind, i)`, so the same tenant id
always yields the same data, and growing a tenant from N to M records keeps the first N unchanged.
Provider modules render these records into their own shapes (Xero, MYOB, QuickBooks JSON).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

# Seeded data lies in the two years before this instant; anything the sandbox changes later is
# stamped with the (real) clock, which is always after it, so "modified since" filters see it.
SEED_ANCHOR = datetime(2025, 6, 30, tzinfo=UTC)

_FIRST_NAMES = (
    "Olivia",
    "Jack",
    "Amelia",
    "Noah",
    "Isla",
    "Leo",
    "Mia",
    "Oliver",
    "Ava",
    "Henry",
    "Grace",
    "Lucas",
    "Chloe",
    "Mason",
    "Ruby",
    "Ethan",
    "Zoe",
    "Liam",
    "Harper",
    "Aria",
)
_LAST_NAMES = (
    "Smith",
    "Nguyen",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Anderson",
    "Thomas",
    "Walker",
    "Harris",
    "Martin",
    "Kelly",
    "King",
    "Lee",
    "Wright",
    "Young",
    "Chen",
    "Patel",
)
_TRADES = (
    "Plumbing",
    "Bakery",
    "Electrical",
    "Landscaping",
    "Consulting",
    "Joinery",
    "Catering",
    "Printing",
    "Logistics",
    "Design",
    "Cleaning",
    "Auto Repairs",
    "Dental",
    "Florist",
)
_SUFFIXES = ("Pty Ltd", "Ltd", "& Co", "Group", "Services", "Partners", "Holdings")
_PRODUCTS = (
    ("Consulting hours", 150.0),
    ("Website maintenance", 95.0),
    ("Installation", 220.0),
    ("Monthly subscription", 49.0),
    ("Hardware kit", 385.5),
    ("Training session", 640.0),
    ("Support retainer", 1200.0),
    ("Delivery", 35.0),
    ("Materials", 78.25),
    ("Audit", 990.0),
)
INVOICE_STATUSES = ("DRAFT", "AUTHORISED", "AUTHORISED", "AUTHORISED", "PAID", "PAID", "PAID", "VOIDED")


@dataclass
class LineItem:
    description: str
    quantity: float
    unit_amount: float

    @property
    def amount(self) -> float:
        return round(self.quantity * self.unit_amount, 2)


@dataclass
class Contact:
    seq: int  # 1-based position; QuickBooks renders it as the numeric Id
    key: str  # UUID for providers with GUID identifiers
    company: str
    first_name: str
    last_name: str
    email: str
    phone: str
    is_supplier: bool
    created_at: datetime
    updated_at: datetime
    version: int = 0  # bumped on every change: QuickBooks SyncToken, MYOB RowVersion
    archived: bool = False


@dataclass
class Invoice:
    seq: int
    key: str
    number: str
    contact_seq: int
    issued: date
    due: date
    status: str  # Xero vocabulary; other providers map it
    currency: str
    tax_rate: float
    lines: list[LineItem]
    created_at: datetime
    updated_at: datetime
    version: int = 0
    reference: str = ""
    paid_on: date | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def subtotal(self) -> float:
        return round(sum(line.amount for line in self.lines), 2)

    @property
    def total_tax(self) -> float:
        return round(self.subtotal * self.tax_rate, 2)

    @property
    def total(self) -> float:
        return round(self.subtotal + self.total_tax, 2)

    @property
    def amount_paid(self) -> float:
        return self.total if self.status == "PAID" else 0.0

    @property
    def amount_due(self) -> float:
        return 0.0 if self.status in ("PAID", "VOIDED") else round(self.total - self.amount_paid, 2)


def _rng(tenant_id: str, kind: str, seq: int) -> random.Random:
    # Not for security: a reproducible stream per record.
    return random.Random(f"{tenant_id}:{kind}:{seq}")  # noqa: S311


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _past_instant(rng: random.Random, max_days: int) -> datetime:
    seconds = rng.randint(0, max_days * 86400)
    millis = rng.randint(0, 999)
    return SEED_ANCHOR - timedelta(seconds=seconds, milliseconds=millis)


def make_contact(tenant_id: str, seq: int) -> Contact:
    rng = _rng(tenant_id, "contact", seq)
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    company = f"{last} {rng.choice(_TRADES)} {rng.choice(_SUFFIXES)}"
    created = _past_instant(rng, 900)
    updated = min(created + timedelta(days=rng.randint(0, 120)), SEED_ANCHOR)
    return Contact(
        seq=seq,
        key=_uuid(rng),
        # The sequence number keeps names unique, as providers require for contacts.
        company=f"{company} #{seq}",
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}{seq}@example.com",
        phone=f"04{rng.randint(10_000_000, 99_999_999)}",
        is_supplier=rng.random() < 0.2,
        created_at=created,
        updated_at=updated,
    )


def make_invoice(tenant_id: str, seq: int, contact_count: int, currency: str) -> Invoice:
    rng = _rng(tenant_id, "invoice", seq)
    created = _past_instant(rng, 730)
    issued = created.date()
    status = rng.choice(INVOICE_STATUSES)
    lines = [
        LineItem(description=name, quantity=float(rng.randint(1, 12)), unit_amount=price)
        for name, price in rng.sample(_PRODUCTS, rng.randint(1, 4))
    ]
    updated = min(created + timedelta(hours=rng.randint(0, 24 * 60)), SEED_ANCHOR)
    return Invoice(
        seq=seq,
        key=_uuid(rng),
        number=f"INV-{seq:06d}",
        contact_seq=rng.randint(1, max(contact_count, 1)),
        issued=issued,
        due=issued + timedelta(days=rng.choice((7, 14, 30, 30, 60))),
        status=status,
        currency=currency,
        tax_rate=rng.choice((0.1, 0.1, 0.15, 0.0)),
        lines=lines,
        created_at=created,
        updated_at=updated,
        reference=f"PO-{rng.randint(1000, 99999)}",
        paid_on=(updated.date() if status == "PAID" else None),
    )
