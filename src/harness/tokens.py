"""`invoke token`: a new API token for a user (created if needed) on a stage's database."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from harness.local import local_stack
from harness.stages import Stage, required_database_url
from integration_service.db import migrations
from integration_service.security.api_tokens import issue_token_at


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
