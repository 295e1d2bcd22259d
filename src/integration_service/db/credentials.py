"""Queries on `integrations_credentials`, always scoped to the owning user.

Reads for the API select the non-secret columns and whether each secret is set, never the
ciphertexts themselves: what is not read cannot be returned by mistake.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as insert_statement

from integration_service.db.schema import integrations_credentials as credentials

SECRET_COLUMNS = {
    "access_token": credentials.c.access_token_encrypted,
    "refresh_token": credentials.c.refresh_token_encrypted,
    "api_key": credentials.c.api_key_encrypted,
    "api_secret": credentials.c.api_secret_encrypted,
}

# PostgreSQL's xmin: the transaction that wrote this version of the row. Every write changes it and it
# never goes back, so it serves as the row's version for optimistic concurrency without a column of its own.
VERSION: ColumnElement[str] = literal_column("integrations_credentials.xmin::text")

PUBLIC_COLUMNS = [
    VERSION.label("version"),
    credentials.c.id,
    credentials.c.integration_type,
    credentials.c.integration_name,
    credentials.c.is_active,
    credentials.c.sync_status,
    credentials.c.sync_error,
    credentials.c.last_synced_at,
    credentials.c.token_expires_at,
    credentials.c.custom_data,
    credentials.c.created_at,
    credentials.c.updated_at,
    *[column.is_not(None).label(f"has_{name}") for name, column in SECRET_COLUMNS.items()],
]


def _owned(user_id: str, integration_id: uuid.UUID) -> list[Any]:
    return [credentials.c.user_id == user_id, credentials.c.id == integration_id]


def insert(connection: Connection, user_id: str, values: dict[str, Any]) -> RowMapping:
    statement = credentials.insert().values(user_id=user_id, **values).returning(*PUBLIC_COLUMNS)
    return connection.execute(statement).mappings().one()


def list_for_user(connection: Connection, user_id: str, *, limit: int, offset: int) -> tuple[Sequence[RowMapping], int]:
    rows = (
        connection.execute(
            select(*PUBLIC_COLUMNS)
            .where(credentials.c.user_id == user_id)
            .order_by(credentials.c.created_at, credentials.c.id)
            .limit(limit)
            .offset(offset)
        )
        .mappings()
        .all()
    )
    total = connection.execute(
        select(func.count()).select_from(credentials).where(credentials.c.user_id == user_id)
    ).scalar_one()
    return rows, total


def get(connection: Connection, user_id: str, integration_id: uuid.UUID) -> RowMapping | None:
    statement = select(*PUBLIC_COLUMNS).where(*_owned(user_id, integration_id))
    return connection.execute(statement).mappings().one_or_none()


def update(
    connection: Connection,
    user_id: str,
    integration_id: uuid.UUID,
    values: dict[str, Any],
    only_versions: Sequence[str] | None = None,
) -> RowMapping | None:
    """The row as this write left it; None if it is not there, or (with `only_versions`) not at one of them."""
    conditions = _owned(user_id, integration_id)
    if only_versions is not None:
        conditions.append(VERSION.in_(only_versions))
    statement = (
        credentials.update().where(*conditions).values(updated_at=func.now(), **values).returning(*PUBLIC_COLUMNS)
    )
    return connection.execute(statement).mappings().one_or_none()


def delete(connection: Connection, user_id: str, integration_id: uuid.UUID) -> bool:
    result = connection.execute(credentials.delete().where(*_owned(user_id, integration_id)))
    return result.rowcount == 1


def upsert_connection(
    connection: Connection, user_id: str, integration_type: str, integration_name: str, values: dict[str, Any]
) -> RowMapping:
    """Create the integration, or reconnect an existing one of the same name: new tokens, errors cleared,
    and a full sync next (the consent may have linked another organisation)."""
    fields = {**values, "is_active": True, "sync_status": "IDLE", "sync_error": None, "last_synced_at": None}
    statement = insert_statement(credentials).values(
        user_id=user_id, integration_type=integration_type, integration_name=integration_name, **fields
    )
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "integration_type", "integration_name"],
        set_={**fields, "updated_at": func.now()},
    )
    return connection.execute(statement.returning(*PUBLIC_COLUMNS)).mappings().one()
