"""`invoke token`: a new API token for a user (created if needed) on a stage's database."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from harness.local import local_stack
from harness.stages import Stage, required_database_url
from integration_service.db import migrations
from integration_service.security.api_tokens import issue_token, issue_token_at
from integration_service.settings import sqlalchemy_url


class TokenError(RuntimeError):
    """The token could not be issued; the message says why, without the database's credentials."""


def issue_stage_token(stage: Stage, user_name: str, label: str = "") -> str:
    """Local: the local stack's database, its embedded server started (and stopped again) if needed,
    migrated to head. Other stages: their DATABASE_URL, whose schema the deployment migrated."""
    if not user_name.strip():
        raise TokenError("the user name must not be empty")
    if stage != "local":
        return issue_token_on(required_database_url(stage), stage, user_name, label)
    stack = local_stack()
    try:
        database_url = stack.start_database()
        migrations.upgrade(database_url)
        return issue_token_on(database_url, stage, user_name, label)
    finally:
        stack.stop()


def issue_token_on(database_url: str, stage: Stage | str, user_name: str, label: str = "") -> str:
    """A token for `user_name` (created if needed) on the database at `database_url`, already migrated."""
    try:
        return issue_token_at(database_url, user_name, label)
    except SQLAlchemyError as exc:
        # The driver's own message (first line) says what went wrong; it does not carry the password.
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = (str(cause).splitlines() or ["(no message)"])[0]
        raise TokenError(f"could not issue a token on the {stage} database: {type(exc).__name__}: {reason}") from None


def issue_tokens(database_url: str, user_names: Sequence[str], label: str) -> list[str]:
    """One token for each user (created if needed), on one connection: a load run's users."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.begin() as connection:
            return [issue_token(connection, name, label) for name in user_names]
    finally:
        engine.dispose()


def remove_users(database_url: str, user_names: Sequence[str]) -> int:
    """Delete these users; their tokens, integrations and every row of theirs go with them (ON DELETE
    CASCADE). How a run on a shared stage leaves nothing behind. Returns how many users were removed."""
    if not user_names:
        return 0
    with psycopg.connect(database_url, autocommit=True) as connection:
        deleted = connection.execute("DELETE FROM users WHERE name = ANY(%s)", [list(user_names)])
        return deleted.rowcount
