"""The ceiling: the bare stack answering the service's list of integrations, with nothing else in the way.

FastAPI + uvicorn + psycopg's async pool, one route (`GET /api/integrations`), one indexed query on
`integrations_credentials` (by `user_id`, the rows and their total in one statement) returning the same
rows in the same JSON shape as the service's first page. It authenticates nothing, limits nothing and
logs nothing: it is what this machine could answer, the yardstick `invoke bench` holds the service to.
Never deploy it.

Started by the harness (`harness.gates.bench`) under uvicorn with the service's own flags:
    CEILING_DATABASE_URL  the service's database (postgresql://...)
    CEILING_USER_ID       whose integrations it lists (the bench's user)
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

PAGE_LIMIT = 50  # the service's default page
POOL_SIZE = 10  # the service's DATABASE_POOL_SIZE default

# The service's IntegrationPublic fields, named as it sends them; `total` rides along on every row.
LIST_SQL = """
SELECT id, integration_type AS "integrationType", integration_name AS "integrationName",
       is_active AS "isActive", sync_status AS "syncStatus", sync_error AS "syncError",
       last_synced_at AS "lastSyncedAt", token_expires_at AS "tokenExpiresAt", custom_data AS "customData",
       access_token_encrypted IS NOT NULL AS "hasAccessToken",
       refresh_token_encrypted IS NOT NULL AS "hasRefreshToken",
       api_key_encrypted IS NOT NULL AS "hasApiKey", api_secret_encrypted IS NOT NULL AS "hasApiSecret",
       created_at AS "createdAt", updated_at AS "updatedAt", count(*) OVER () AS total
FROM integrations_credentials WHERE user_id = %s ORDER BY created_at, id LIMIT %s
"""


def _plain(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)  # datetimes and UUIDs


def page(rows: list[dict[str, Any]]) -> bytes:
    """The service's list answer: the rows (without the total column), the total, limit and offset."""
    total = rows[0].pop("total") if rows else 0
    for row in rows[1:]:
        del row["total"]
    document = {"integrations": rows, "total": total, "limit": PAGE_LIMIT, "offset": 0}
    return json.dumps(document, default=_plain, separators=(",", ":")).encode()


def create_app(database_url: str, user_id: str) -> FastAPI:
    pool = AsyncConnectionPool(
        database_url.replace("postgresql+psycopg://", "postgresql://"),
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "row_factory": dict_row},
        open=False,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/integrations")
    async def list_integrations() -> Response:
        async with pool.connection() as connection:
            cursor = await connection.execute(LIST_SQL, (user_id, PAGE_LIMIT))
            rows: list[dict[str, Any]] = await cursor.fetchall()  # type: ignore[assignment]  # dict_row
        return Response(page(rows), media_type="application/json")

    return app


def app_from_env() -> FastAPI:
    return create_app(os.environ["CEILING_DATABASE_URL"], os.environ["CEILING_USER_ID"])
