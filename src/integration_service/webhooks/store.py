"""Every received webhook event, stored once by the provider's event id.

`receive` inserts the event in the caller's transaction and tells whether it is new; the caller
applies it in that same transaction and then calls `settle`. If applying fails, the insert rolls
back with it, the provider gets an error and redelivers: an event is applied exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func
from sqlalchemy.dialects.postgresql import insert

from integration_service.db.schema import integrations_sync_logs, webhook_events


def receive(
    connection: Connection,
    provider: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    occurred_at: datetime | None,
    replaceable: ColumnElement[bool] | None = None,
) -> int | None:
    """The stored event's row id, or None when this event was received and dealt with before.

    A stored event matching `replaceable` is processed afresh by a later delivery with its id, which then
    replaces the stored one. By default one `unmatched` (it came before the row it changes existed): one
    that was applied or ignored is never processed again. PayPal also replaces `ignored` events it never
    confirmed (webhooks/paypal_events.py).
    """
    new = insert(webhook_events).values(
        provider=provider,
        event_id=event_id,
        event_type=event_type,
        payload=payload,
        occurred_at=occurred_at,
        outcome="ignored",
    )
    statement = new.on_conflict_do_update(
        index_elements=["provider", "event_id"],
        set_={
            "received_at": func.now(),
            "event_type": new.excluded.event_type,
            "payload": new.excluded.payload,
            "occurred_at": new.excluded.occurred_at,
        },
        where=webhook_events.c.outcome == "unmatched" if replaceable is None else replaceable,
    ).returning(webhook_events.c.id)
    row_id: int | None = connection.execute(statement).scalar_one_or_none()
    return row_id


def settle(
    connection: Connection,
    row_id: int,
    outcome: str,
    duration_ms: int,
    detail: str | None = None,
    integration: Mapping[Any, Any] | None = None,
) -> None:
    """Record what the event did; an event applied to an integration also writes a `webhook` sync log
    row for it (the checklist's daily checks count those)."""
    connection.execute(
        webhook_events.update()
        .where(webhook_events.c.id == row_id)
        .values(
            outcome=outcome,
            detail=detail,
            applied_at=func.clock_timestamp(),  # now() would be the transaction's start
            integration_id=None if integration is None else integration["id"],
        )
    )
    if integration is not None:
        connection.execute(
            integrations_sync_logs.insert().values(
                integration_id=integration["id"],
                user_id=integration["user_id"],
                integration_type=integration["integration_type"],
                sync_type="webhook",
                status="success" if outcome == "applied" else "failed",
                total_records=1,
                synced_records=1 if outcome == "applied" else 0,
                failed_records=0 if outcome == "applied" else 1,
                error_message=None if outcome == "applied" else detail,
                duration_ms=duration_ms,
                completed_at=func.now(),
            )
        )
