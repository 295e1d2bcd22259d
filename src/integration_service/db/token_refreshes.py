"""OAuth token refreshes by result (`success`, `failure`), counted in the database by whichever process refreshed."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from integration_service.db.schema import token_refresh_counts as counts


def count_refresh(connection: Connection, result: str) -> None:
    added = insert(counts).values(result=result, count=1)
    connection.execute(
        added.on_conflict_do_update(index_elements=[counts.c.result], set_={"count": counts.c.count + 1})
    )


def refresh_counts(connection: Connection) -> dict[str, int]:
    return {str(result): int(count) for result, count in connection.execute(select(counts.c.result, counts.c.count))}
