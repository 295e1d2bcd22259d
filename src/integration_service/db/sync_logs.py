"""Queries on `integrations_sync_logs`, scoped to the owning user."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from integration_service.db.schema import integrations_sync_logs as sync_logs


@dataclass(frozen=True)
class LogFilter:
    integration_id: uuid.UUID | None = None
    integration_type: str | None = None
    status: str | None = None
    sync_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[Any]:
        conditions = []
        if self.integration_id is not None:
            conditions.append(sync_logs.c.integration_id == self.integration_id)
        if self.integration_type is not None:
            conditions.append(sync_logs.c.integration_type == self.integration_type)
        if self.status is not None:
            conditions.append(sync_logs.c.status == self.status)
        if self.sync_type is not None:
            conditions.append(sync_logs.c.sync_type == self.sync_type)
        if self.since is not None:
            conditions.append(sync_logs.c.created_at >= self.since)
        if self.until is not None:
            conditions.append(sync_logs.c.created_at < self.until)
        return conditions


def list_for_user(
    connection: Connection, user_id: str, where: LogFilter, *, limit: int, offset: int
) -> tuple[Sequence[RowMapping], int]:
    conditions = [sync_logs.c.user_id == user_id, *where.conditions()]
    rows = (
        connection.execute(
            select(sync_logs)
            .where(*conditions)
            .order_by(sync_logs.c.created_at.desc(), sync_logs.c.id)
            .limit(limit)
            .offset(offset)
        )
        .mappings()
        .all()
    )
    total = connection.execute(select(func.count()).select_from(sync_logs).where(*conditions)).scalar_one()
    return rows, total


def one_for_user(connection: Connection, user_id: str, log_id: uuid.UUID) -> RowMapping | None:
    return (
        connection.execute(select(sync_logs).where(sync_logs.c.id == log_id, sync_logs.c.user_id == user_id))
        .mappings()
        .one_or_none()
    )
