"""`GET /v1/payments/payment`: every query parameter the payments spec lists for it.

    count        1..20 (default 10)          start_id     continue at this payment (a `next_id`)
    start_index  1-based position to start   start_time   created at or after (RFC 3339)
    end_time     created before (RFC 3339)   payee_id     the merchant paid (the sandbox has one)
    sort_by      create_time (the only one)  sort_order   desc (the only one)

Only completed payments are listed (a just-created one does not appear), newest first. A value the
spec does not allow is a 400 VALIDATION_ERROR naming the parameter, never ignored. `start_id` and
`start_index` both say where to start, so together they are refused rather than one guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provider_sandbox.providers.paypal.errors import v1_invalid
from provider_sandbox.providers.paypal.wire import MERCHANT

MAX_COUNT = 20
ONLY_VALUES = {"sort_by": "create_time", "sort_order": "desc"}


@dataclass(frozen=True)
class PaymentQuery:
    count: int = 10
    start_id: str | None = None
    start_index: int = 1
    start_time: datetime | None = None
    end_time: datetime | None = None
    payee_id: str | None = None


def _integer(params: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise v1_invalid(name, f"{name} must be an integer {bounds}")
    return int(raw)


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in raw.upper():
        raise v1_invalid(name, f"{name} must be an RFC 3339 date and time, e.g. 2016-03-06T11:00:00Z")
    return moment


def parse_query(params: Mapping[str, str]) -> PaymentQuery:
    for name, only in ONLY_VALUES.items():
        if params.get(name, only) != only:
            raise v1_invalid(name, f"{name} supports only {only}")
    if "start_id" in params and "start_index" in params:
        raise v1_invalid("start_index", "Use start_id or start_index, not both")
    query = PaymentQuery(
        count=_integer(params, "count", 10, 1, MAX_COUNT),
        start_id=params.get("start_id"),
        start_index=_integer(params, "start_index", 1, 1),
        start_time=_time(params, "start_time"),
        end_time=_time(params, "end_time"),
        payee_id=params.get("payee_id"),
    )
    if query.start_time and query.end_time and query.end_time < query.start_time:
        raise v1_invalid("end_time", "end_time must not be before start_time")
    return query


def _created(payment: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(payment["create_time"])


def _selected(payment: Mapping[str, Any], query: PaymentQuery) -> bool:
    created = _created(payment)
    return (
        payment["state"] != "created"
        and (query.start_time is None or created >= query.start_time)
        and (query.end_time is None or created < query.end_time)
        and (query.payee_id is None or query.payee_id == MERCHANT["merchant_id"])
    )


def payment_history(payments: Iterable[dict[str, Any]], query: PaymentQuery) -> dict[str, Any]:
    """The `payment_history` body: one range of the selected payments, and `next_id` if more follow."""
    # Newest first; among equal times the later-made payment first (sorted() keeps insertion order).
    chosen = sorted((p for p in reversed(list(payments)) if _selected(p, query)), key=_created, reverse=True)
    start = query.start_index - 1
    if query.start_id is not None:
        ids = [p["id"] for p in chosen]
        if query.start_id not in ids:
            raise v1_invalid("start_id", "start_id is not a payment in this list")
        start = ids.index(query.start_id)
    page = chosen[start : start + query.count]
    body: dict[str, Any] = {"payments": page, "count": len(page)}
    if start + query.count < len(chosen):
        body["next_id"] = chosen[start + query.count]["id"]
    return body
