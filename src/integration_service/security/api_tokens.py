"""Bearer API tokens: random, shown once, stored only as a SHA-256 hash.

A token carries 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection, create_engine, select
from sqlalchemy.dialects.postgresql import insert

from integration_service.db.schema import api_tokens, users
from integration_service.settings import sqlalchemy_url

TOKEN_PREFIX = "isk_"  # noqa: S105 - a public prefix that makes leaked tokens recognisable


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def user_for_token(connection: Connection, token: str) -> str | None:
    """The user a live (not revoked) token belongs to, or None."""
    row = connection.execute(
        select(api_tokens.c.user_id).where(
            api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    return None if row is None else row.user_id


def issue_token(connection: Connection, user_name: str, label: str = "") -> str:
    """Create the user if needed and a new token for it; the token is returned once and not kept."""
    connection.execute(insert(users).values(name=user_name).on_conflict_do_nothing(index_elements=["name"]))
    user_id = connection.execute(select(users.c.id).where(users.c.name == user_name)).scalar_one()
    token = new_token()
    connection.execute(api_tokens.insert().values(user_id=user_id, token_hash=hash_token(token), label=label))
    return token


def issue_token_at(database_url: str, user_name: str, label: str = "") -> str:
    """`issue_token` against a database given by URL: for `invoke token` and the test fixtures."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.begin() as connection:
            return issue_token(connection, user_name, label)
    finally:
        engine.dispose()
