"""Every field PayPal's merge rule protects (db/paypal_rows.py), with the older news arriving after the newer.

Webhooks apply PayPal's own current resource (webhooks/paypal_confirm.py), so through the webhook an old
event already brings the newest state; the merge rule is what keeps a row right when actions, syncs
and events about one object meet in any order. `changes` is the whole rule: the values it would set.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from integration_service.db.paypal_rows import ORDERS, PAYMENTS, SUBSCRIPTIONS, changes

T1, T2 = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)


def _payment(**values: Any) -> dict[str, Any]:
    row = {"sale_id": "SALE-1", "intent": "sale", "amount": Decimal("40.00"), "currency": "USD", "payer_id": "P-1"}
    return {**row, "state": "completed", "state_at": T1, "refunded_amount": Decimal(0), "provider_updated_at": T1,
            **values}  # fmt: skip


def _subscription(**values: Any) -> dict[str, Any]:
    row = {"plan_id": "P-PLAN", "subscriber_email": "buyer@example.com", "start_time": T1}
    return {**row, "status": "ACTIVE", "state_at": T1, "provider_updated_at": T1, **values}


def test_a_state_less_far_along_never_replaces_one_further_along() -> None:
    stored = _payment(state="refunded", state_at=T1, refunded_amount=Decimal(40))
    assert changes(PAYMENTS, stored, {"state": "completed", "state_at": T2, "provider_updated_at": T2}) == {}


def test_between_states_equally_far_along_the_older_one_changes_nothing() -> None:
    stored = _subscription(status="SUSPENDED", state_at=T2, provider_updated_at=T2)
    assert changes(SUBSCRIPTIONS, stored, {"status": "ACTIVE", "state_at": T1, "provider_updated_at": T1}) == {}


def test_between_states_equally_far_along_the_newer_one_wins() -> None:
    stored = _subscription(status="SUSPENDED", state_at=T1)
    found = changes(SUBSCRIPTIONS, stored, {"status": "ACTIVE", "state_at": T2, "provider_updated_at": T2})
    assert found == {"status": "ACTIVE", "state_at": T2, "provider_updated_at": T2}


def test_an_older_refunded_total_never_lowers_the_newer_one() -> None:
    stored = _payment(state="refunded", state_at=T2, refunded_amount=Decimal(40))
    older = {"state": "partially_refunded", "state_at": T1, "refunded_amount": Decimal(15), "provider_updated_at": T1}
    assert changes(PAYMENTS, stored, older) == {}


def test_older_news_filling_in_a_field_moves_no_time_backwards() -> None:
    stored = _payment(state="refunded", state_at=T2, provider_updated_at=T2, payer_id=None)
    found = changes(
        PAYMENTS, stored, {"payer_id": "P-9", "state": "completed", "state_at": T1, "provider_updated_at": T1}
    )
    assert found == {"payer_id": "P-9"}  # learnt; neither the state nor either time goes back


def test_news_that_lacks_a_descriptive_field_does_not_erase_it() -> None:
    stored = _subscription()
    blank = {"plan_id": None, "subscriber_email": None, "start_time": None, "status": "ACTIVE", "state_at": T1}
    assert changes(SUBSCRIPTIONS, stored, blank) == {}


def _order(**values: Any) -> dict[str, Any]:
    row = {"intent": "CAPTURE", "amount": Decimal("25.00"), "currency": "USD", "payer_id": None, "capture_id": None}
    return {**row, "status": "APPROVED", "state_at": T1, "provider_updated_at": T1, **values}


def test_an_order_never_moves_back_from_completed() -> None:
    stored = _order(status="COMPLETED", capture_id="CAP-1", state_at=T1)
    older_news = {"status": "APPROVED", "state_at": T2, "provider_updated_at": T2, "payer_id": "PAYER2345ABCD"}
    learnt = {"payer_id": "PAYER2345ABCD", "provider_updated_at": T2}  # and still COMPLETED
    assert changes(ORDERS, stored, older_news) == learnt
    assert changes(ORDERS, _order(status="APPROVED"), {"status": "PAYER_ACTION_REQUIRED", "state_at": T2}) == {}


def test_a_capture_completes_an_approved_order_and_names_its_capture() -> None:
    found = changes(ORDERS, _order(), {"status": "COMPLETED", "capture_id": "CAP-2", "state_at": T2})
    assert found == {"status": "COMPLETED", "capture_id": "CAP-2", "state_at": T2}
