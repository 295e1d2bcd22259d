"""Pending OAuth authorisations: random, stored hashed, bound to a user, single-use, expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping

from integration_service.db.schema import oauth_states


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def create(
    connection: Connection,
    user_id: str,
    integration_type: str,
    integration_name: str,
    custom_data: dict[str, Any],
    ttl_s: int,
) -> str:
    """A new state value; only its hash is stored, so a database reader cannot complete a flow."""
    state = secrets.token_urlsafe(32)
    connection.execute(
        oauth_states.insert().values(
            state_hash=_hash(state),
            user_id=user_id,
            integration_type=integration_type,
            integration_name=integration_name,
            custom_data=custom_data,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
        )
    )
    return state


def consume(connection: Connection, state: str, integration_type: str) -> RowMapping | None:
    """The pending authorisation for this state, deleted as it is read: a second use finds nothing."""
    statement = (
        oauth_states.delete()
        .where(oauth_states.c.state_hash == _hash(state), oauth_states.c.integration_type == integration_type)
        .returning(oauth_states)
    )
    row = connection.execute(statement).mappings().one_or_none()
    if row is None or row["expires_at"] <= datetime.now(UTC):
        return None
    return row
