"""The one "newer state wins" rule (db/newer_state.py): its Python and SQL forms agree on every case."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import DateTime, literal, select
from sqlalchemy.dialects import postgresql

from integration_service.db.newer_state import is_newer, is_newer_sql, later, later_sql

pytestmark = pytest.mark.db

T1, T2 = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)
CASES = [(None, T1), (T1, T1), (T1, T2), (T2, T1)]  # (stored at, news at)


def test_news_replaces_an_unknown_time_a_same_time_and_an_older_one_only() -> None:
    assert [is_newer(stored, news) for stored, news in CASES] == [True, True, True, False]
    assert is_newer(T1, None) is False  # news without a time never replaces a timed state
    assert [later(stored, news) for stored, news in CASES] == [T1, T1, T2, T2]


@pytest.mark.parametrize(("stored_at", "news_at"), CASES)
def test_the_sql_form_says_the_same(
    sql: psycopg.Connection[tuple[object, ...]], stored_at: datetime | None, news_at: datetime
) -> None:
    stored = literal(stored_at, DateTime(timezone=True))
    compiled = select(is_newer_sql(stored, news_at), later_sql(stored, news_at)).compile(
        dialect=postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialect __init__ is untyped
    )
    row = sql.execute(str(compiled), compiled.params).fetchone()
    assert row == (is_newer(stored_at, news_at), later(stored_at, news_at))
