"""`invoke token`: a new API token for a user (created if needed) on a stage's database; and the removal of
the users the checklist scenarios made there."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from harness.core.settings import required_database_url
from harness.core.stages import Stage
from harness.stack.dev import local_stack
from integration_service.db import migrations
from integration_service.security.api_tokens import check_rate_limit, issue_token, issue_token_at
from integration_service.settings import sqlalchemy_url


class TokenError(RuntimeError):
    """The token could not be issued; the message says why, without the database's credentials."""


def issue_stage_token(stage: Stage, user_name: str, label: str = "", rate_limit: str | None = None) -> str:
    """Local: the local stack's database, its embedded server started (and stopped again) if needed,
    migrated to head. Other stages: their DATABASE_URL, whose schema the deployment migrated.
    `rate_limit`: the token's own limit (e.g. "600/minute"), counted for it alone; None: its user's default."""
    if not user_name.strip():
        raise TokenError("the user name must not be empty")
    if rate_limit is not None:
        _checked(rate_limit)  # before any database is started
    if stage != "local":
        return issue_token_on(required_database_url(stage), stage, user_name, label, rate_limit=rate_limit)
    stack = local_stack()
    try:
        database_url = stack.start_database()
        migrations.upgrade(database_url)
        return issue_token_on(database_url, stage, user_name, label, rate_limit=rate_limit)
    finally:
        stack.stop()


def database_engine(database_url: str) -> Engine:
    """An engine to pass as `engine=` below: one connection pool for many tokens and removals (the caller
    disposes of it)."""
    return create_engine(sqlalchemy_url(database_url), pool_pre_ping=True)


def issue_token_on(
    database_url: str,
    stage: Stage | str,
    user_name: str,
    label: str = "",
    *,
    engine: Engine | None = None,
    rate_limit: str | None = None,
) -> str:
    """A token for `user_name` (created if needed) on the database at `database_url`, already migrated.
    `engine`: one the caller keeps open on that database (many tokens, one connection pool).
    `rate_limit`: the token's own limit, as in `issue_stage_token`."""
    if rate_limit is not None:
        _checked(rate_limit)
    try:
        if engine is None:
            return issue_token_at(database_url, user_name, label, rate_limit)
        with engine.begin() as connection:
            return issue_token(connection, user_name, label, rate_limit)
    except SQLAlchemyError as exc:
        raise TokenError(f"could not issue a token on the {stage} database: {_reason(exc)}") from None


def issue_tokens(database_url: str, user_names: Sequence[str], label: str) -> list[str]:
    """One token for each user (created if needed), on one connection: a load run's users."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.begin() as connection:
            return [issue_token(connection, name, label) for name in user_names]
    finally:
        engine.dispose()


def remove_users(database_url: str, user_names: Collection[str], *, engine: Engine | None = None) -> None:
    """Remove users a scenario made: their tokens revoked first (so they are dead even if the delete
    below fails), then the users deleted with all they own (tokens, integrations, sync logs, synced
    records and OAuth states cascade) and the webhook events recorded against their integrations.
    `engine`: one the caller keeps open on that database (left open here)."""
    if not user_names:
        return
    names = {"names": list(user_names)}
    own_engine = engine is None
    engine = create_engine(sqlalchemy_url(database_url)) if engine is None else engine
    try:
        with engine.begin() as connection:
            connection.execute(_REVOKE_TOKENS, names)
        _delete_users(engine, names)
    except SQLAlchemyError as exc:
        raise TokenError(f"could not remove the scenario users {sorted(user_names)}: {_reason(exc)}") from None
    finally:
        if own_engine:
            engine.dispose()


def _delete_users(engine: Engine, names: dict[str, list[str]]) -> None:
    """Delete the users and what they own in one transaction. A write still under way for them (a webhook
    being applied, which locks its event and then the integration's rows) can deadlock with it: PostgreSQL
    then aborts one of the two and the other finishes, so the delete is tried again (seen in CI: a PayPal
    subscription's activation event applied as its scenario ended)."""
    for attempt in range(1, DELETE_ATTEMPTS + 1):
        try:
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '30s'"))  # a sync still writing finishes first
                connection.execute(_DELETE_WEBHOOK_EVENTS, names)
                connection.execute(_DELETE_USERS, names)
            return
        except OperationalError as exc:
            if not isinstance(exc.orig, psycopg.errors.DeadlockDetected) or attempt == DELETE_ATTEMPTS:
                raise


def _checked(rate_limit: str) -> None:
    try:
        check_rate_limit(rate_limit)
    except ValueError as exc:
        raise TokenError(str(exc)) from None


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own message (first line): it says what went wrong and does not carry the password."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return f"{type(exc).__name__}: {(str(cause).splitlines() or ['(no message)'])[0]}"


_REVOKE_TOKENS = text(
    "UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL"
    " AND user_id IN (SELECT id FROM users WHERE name = ANY(:names))"
)
_DELETE_WEBHOOK_EVENTS = text(
    "DELETE FROM webhook_events WHERE integration_id IN (SELECT c.id FROM integrations_credentials c"
    " JOIN users u ON u.id = c.user_id WHERE u.name = ANY(:names))"
)
_DELETE_USERS = text("DELETE FROM users WHERE name = ANY(:names)")
DELETE_ATTEMPTS = 3  # a deadlock aborts one of its transactions; the other then finishes
