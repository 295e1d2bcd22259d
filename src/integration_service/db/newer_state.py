"""The one "newer state wins" rule for rows that learn a provider object's state in any order.

A row remembers when the state it holds was true at the provider (`state_at`). News of a state
replaces it when the row's time is unknown or the news is not older; a row's `state_at` only moves
forward. The Python form serves merges of locked rows (db/paypal_rows.py); the SQL form serves
single-statement updates (webhooks/stripe.py). Both say the same thing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func


def is_newer(stored_at: datetime | None, news_at: datetime | None) -> bool:
    """Whether news from `news_at` replaces a state stored as true at `stored_at`."""
    return stored_at is None or (news_at is not None and news_at >= stored_at)


def later(first: datetime | None, second: datetime | None) -> datetime | None:
    """A `state_at` after news: the later of the two known times."""
    if first is None or second is None:
        return first or second
    return max(first, second)


def is_newer_sql(stored_at: ColumnElement[Any], news_at: datetime) -> ColumnElement[bool]:
    """`is_newer` for every row an UPDATE touches (news from a webhook always has its time)."""
    return stored_at.is_(None) | (stored_at <= news_at)


def later_sql(stored_at: ColumnElement[Any], news_at: datetime) -> ColumnElement[Any]:
    """`later` for every row an UPDATE touches."""
    return func.greatest(func.coalesce(stored_at, news_at), news_at)
