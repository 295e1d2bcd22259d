"""One page of a table's rows and how many there are in all: every list route reads through here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, UnaryExpression, func, select

HIDDEN_COLUMNS = frozenset({"id", "user_id"})  # internal: never part of an API answer


def page_of_rows(
    engine: Engine,
    table: Table,
    conditions: Sequence[ColumnElement[bool]],
    order_by: Sequence[ColumnElement[Any] | UnaryExpression[Any]],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The rows matching every condition (without the hidden columns), in order, and their total."""
    visible = [column for column in table.columns if column.name not in HIDDEN_COLUMNS]
    with engine.connect() as connection:
        rows = connection.execute(
            select(*visible).where(*conditions).order_by(*order_by).limit(limit).offset(offset)
        ).mappings()
        found = [dict(row) for row in rows]
        total = connection.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()
    return found, total
