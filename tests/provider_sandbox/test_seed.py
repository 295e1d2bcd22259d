"""Seeded data is deterministic per tenant and internally consistent."""

from __future__ import annotations

from datetime import UTC, datetime

from provider_sandbox.core.seed import SEED_ANCHOR, make_contact, make_invoice
from provider_sandbox.core.tenants import Tenant, stable_realm_id, stable_uuid


def tenant(tenant_id: str, invoices: int, contacts: int) -> Tenant:
    t = Tenant("xero", tenant_id, "T", "AUD", "AU", datetime(2025, 1, 1, tzinfo=UTC))
    t.resize(invoices, contacts)
    return t


def test_same_tenant_id_same_data_and_different_ids_differ() -> None:
    assert make_invoice("a", 7, 10, "AUD") == make_invoice("a", 7, 10, "AUD")
    assert make_contact("a", 3) == make_contact("a", 3)
    assert make_invoice("a", 7, 10, "AUD").key != make_invoice("b", 7, 10, "AUD").key


def test_resize_keeps_existing_records() -> None:
    small, big = tenant("t1", 50, 5), tenant("t1", 500, 5)
    assert big.invoices[:50] == small.invoices
    big.resize(20, 5)
    assert big.invoices == small.invoices[:20]


def test_invoices_are_consistent_and_before_the_anchor() -> None:
    t = tenant("t2", 400, 40)
    assert len({inv.key for inv in t.invoices}) == 400
    for inv in t.invoices:
        assert inv.total == round(inv.subtotal + inv.total_tax, 2)
        assert inv.created_at <= inv.updated_at <= SEED_ANCHOR
        assert inv.due >= inv.issued
        assert 1 <= inv.contact_seq <= 40
        assert inv.amount_due == (0.0 if inv.status in ("PAID", "VOIDED") else inv.total)


def test_mutation_stamps_are_after_everything_else() -> None:
    t = tenant("t3", 30, 3)
    before = t.latest_change()
    change = t.mutate(datetime(2020, 1, 1, tzinfo=UTC), modify=2, add=1, modify_contacts=1)  # a clock in the past
    assert change.stamp > before
    assert [inv.version for inv in change.modified] == [1, 1]
    assert change.added[0].seq == 31
    assert t.contacts[0].updated_at == change.stamp


def test_stable_ids() -> None:
    assert stable_uuid("x") == stable_uuid("x") != stable_uuid("y")
    realm = stable_realm_id("quickbooks/default")
    assert realm.isdigit()
    assert len(realm) == 16
