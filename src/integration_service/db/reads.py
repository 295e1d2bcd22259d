"""The hot read path: an asyncio psycopg pool, and the reads the busiest routes make on it.

The SQLAlchemy engine (db/engine.py) serves everything else from the thread pool. Reads here run on the
event loop without a thread hop, on autocommit connections: a lone SELECT needs no BEGIN before it nor
ROLLBACK when the connection goes back (psycopg's pool sends nothing when a connection returns idle).
Statements are SQLAlchemy Core compiled once to psycopg's SQL, so the columns read are the very ones
the sync path reads (db/credentials.py's PUBLIC_COLUMNS: never a ciphertext).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from integration_service.db.credentials import PUBLIC_COLUMNS
from integration_service.db.engine import SERVICE_APPLICATION, load_json
from integration_service.db.schema import api_tokens
from integration_service.db.schema import integrations_credentials as credentials
from integration_service.settings import Settings


def _sql(statement: Select[Any]) -> str:
    return str(statement.compile(dialect=PGDialect_psycopg()))  # type: ignore[no-untyped-call]


_LIVE_TOKENS_USER = select(api_tokens.c.user_id).where(
    api_tokens.c.token_hash == bindparam("token_hash"), api_tokens.c.revoked_at.is_(None)
)
# The page, the total and the token check in one statement: the rows are those of the user a live token
# (by hash) belongs to, so a revoked token reads nothing; the window counts the user's rows before LIMIT.
_PAGE = _sql(
    select(*PUBLIC_COLUMNS, credentials.c.user_id.label("owner"), func.count().over().label("total"))
    .where(credentials.c.user_id == _LIVE_TOKENS_USER.scalar_subquery())
    .order_by(credentials.c.created_at, credentials.c.id)
    .limit(bindparam("limit", type_=None))
    .offset(bindparam("offset", type_=None))
)
_TOTAL = _sql(select(func.count()).select_from(credentials).where(credentials.c.user_id == bindparam("user_id")))
_TOKEN_OWNER = _sql(_LIVE_TOKENS_USER.add_columns(api_tokens.c.rate_limit))


async def _configure(connection: AsyncConnection[Any]) -> None:
    set_json_loads(load_json, connection)  # as the engine reads JSON: a too-deep value reads as unreadable


def create_read_pool(settings: Settings, application_name: str = SERVICE_APPLICATION) -> AsyncConnectionPool:
    """Not opened: the app's lifespan opens it on the serving event loop."""
    return AsyncConnectionPool(
        settings.database_url.get_secret_value(),
        min_size=1,
        max_size=settings.database_pool_size,
        timeout=settings.database_pool_timeout_s,
        kwargs={
            "autocommit": True,
            "connect_timeout": 10,
            "options": "-c statement_timeout=30000",  # a hung statement must not hold a connection for ever
            "application_name": application_name,
        },
        configure=_configure,
        open=False,
        name="reads",
    )


async def token_owner(connection: AsyncConnection[Any], token_hash: str) -> tuple[str, str | None] | None:
    """The user a live (not revoked) token hash belongs to and the token's own rate limit (None: the
    user's default), or None: one round trip."""
    row = await (await connection.execute(_TOKEN_OWNER, {"token_hash": token_hash})).fetchone()
    return None if row is None else (str(row[0]), row[1])


@dataclass(frozen=True)
class IntegrationsPage:
    rows: list[dict[str, Any]]  # PUBLIC_COLUMNS, in creation order
    owner: str  # the user the token belongs to
    total: int


async def integrations_page(
    connection: AsyncConnection[Any], token_hash: str, *, limit: int, offset: int
) -> IntegrationsPage | None:
    """A page of the integrations of the user a live token belongs to, and their total; None when the page
    is empty: then whether the token is live is not known (the caller verifies it, and asks `total`)."""
    cursor = connection.cursor(row_factory=dict_row)
    params = {"token_hash": token_hash, "limit": limit, "offset": offset}
    rows = await (await cursor.execute(_PAGE, params)).fetchall()
    if not rows:
        return None
    owner, total = rows[0]["owner"], rows[0]["total"]
    for row in rows:
        del row["owner"], row["total"]
    return IntegrationsPage(rows, owner, total)


async def total(connection: AsyncConnection[Any], user_id: str) -> int:
    found = await (await connection.execute(_TOTAL, {"user_id": user_id})).fetchone()
    return 0 if found is None else int(found[0])
