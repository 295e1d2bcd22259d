"""Batched, idempotent writes of provider records: INSERT ... ON CONFLICT DO UPDATE on the provider id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func
from sqlalchemy.dialects.postgresql import insert

from integration_service.providers.base import RecordSet


def upsert_rows(connection: Connection, records: RecordSet, rows: Sequence[dict[str, Any]], batch_size: int) -> int:
    """Write rows (already carrying integration_id and user_id); one statement per batch. Returns rows written.

    Rows with the same provider id in one batch are collapsed to the last one: PostgreSQL refuses to
    update one row twice in a single INSERT ... ON CONFLICT.
    """
    unique = list({row[records.key]: row for row in rows}.values())
    written = 0
    for start in range(0, len(unique), batch_size):
        batch = unique[start : start + batch_size]
        statement = insert(records.table).values(batch)
        updated = {
            name: statement.excluded[name]
            for name in batch[0]
            if name not in ("integration_id", "user_id", records.key)
        }
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["integration_id", records.key], set_={**updated, "updated_at": func.now()}
            )
        )
        written += len(batch)
    return written
