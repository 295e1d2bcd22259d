"""One sync per integration at a time (a PostgreSQL advisory lock).

The lock is held on a connection of its own for the whole run, so it is released when the run ends,
and also if the process dies (the connection closes): a `running` log row whose lock is free belongs
to a dead run. Different integrations lock different keys and run in parallel, as many as the worker's
concurrency (integration_service/worker.py), which the settings keep below the pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text


def lock_key(integration_id: uuid.UUID) -> int:
    """A signed 64-bit key derived from the integration id (advisory locks take a bigint)."""
    high = integration_id.int >> 64
    return high - (1 << 64) if high >= (1 << 63) else high


@contextmanager
def sync_lock(engine: Engine, integration_id: uuid.UUID) -> Iterator[bool]:
    """Yields True when this caller holds the lock, False when another sync holds it."""
    key = lock_key(integration_id)
    with engine.connect() as connection:
        acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        connection.commit()
        try:
            yield acquired
        finally:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


def hold_until_commit(connection: Connection, integration_id: uuid.UUID) -> bool:
    """Take the integration's lock for the connection's transaction: False while a sync of it runs.

    Held until commit, so no sync can start while the transaction (e.g. a delete) is under way.
    """
    key = lock_key(integration_id)
    return bool(connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar())
