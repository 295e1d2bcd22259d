"""The connection pool: one SQLAlchemy engine per process, psycopg 3 underneath."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event

from integration_service.settings import Settings


class UnreadableJson(dict[str, Any]):
    """A stored JSON value nested too deeply for Python's parser (written by an older version, or by hand):
    read as an empty object, so that reading its row never fails; the API shows that it is unreadable."""


def load_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        return UnreadableJson()


# Who holds a connection (pg_stat_activity.application_name): the web process's pool, a worker's, the queue's.
SERVICE_APPLICATION, WORKER_APPLICATION, QUEUE_APPLICATION = "integration-service", "integration-worker", "sync-queue"


def create_database_engine(settings: Settings, application_name: str = SERVICE_APPLICATION) -> Engine:
    return create_engine(
        settings.sqlalchemy_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_max_overflow,
        pool_timeout=settings.database_pool_timeout_s,
        pool_pre_ping=True,
        json_deserializer=load_json,
        hide_parameters=True,  # error messages and logs never carry bound values (they may be secrets)
        # A statement that hangs must not hold a pooled connection for ever.
        connect_args={
            "connect_timeout": 10,
            "options": "-c statement_timeout=30000",
            "application_name": application_name,
        },
    )


class StatementCounter:
    """Counts the SQL statements an engine runs inside `counting()` on this thread (N+1 detection)."""

    def __init__(self, engine: Engine) -> None:
        self._active: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("statements", default=None)
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        counter = self._active.get()
        if counter is not None:
            counter[0] += 1

    @contextmanager
    def counting(self) -> Iterator[list[int]]:
        counter = [0]
        token = self._active.set(counter)
        try:
            yield counter
        finally:
            self._active.reset(token)
