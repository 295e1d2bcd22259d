"""Bearer API tokens: random, shown once, stored only as a SHA-256 hash.

A token carries 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Connection, create_engine, select
from sqlalchemy.dialects.postgresql import insert

from integration_service.db.reads import token_user
from integration_service.db.schema import api_tokens, users
from integration_service.metrics import TOKEN_LOOKUPS
from integration_service.settings import sqlalchemy_url

TOKEN_PREFIX = "isk_"  # noqa: S105 - a public prefix that makes leaked tokens recognisable
# A made-up token is answered from memory for this long: long enough that repeating it is free, short
# enough that the memory stays small. (No real token can appear later under a forged one's hash.)
FORGED_TOKEN_TTL_S = 60.0
# Which user a live token belongs to, remembered only to pick its rate-limit bucket before the lookup.
RECENT_TOKEN_TTL_S = 600.0
CACHE_CAPACITY = 10_000  # per map and process; the oldest entries go first


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def user_for_token(connection: Connection, token: str) -> str | None:
    """The user a live (not revoked) token belongs to, or None. Every call is one database round trip."""
    row = connection.execute(
        select(api_tokens.c.user_id).where(
            api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    TOKEN_LOOKUPS.labels("unknown" if row is None else "live").inc()
    return None if row is None else row.user_id


class _ExpiringMap:
    """A bounded, thread-safe map whose entries expire; when full, the oldest entry makes room."""

    def __init__(self, ttl_s: float, capacity: int) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return entry[1]

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (time.monotonic() + self._ttl_s, value)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class TokenVerifier:
    """Who a presented token belongs to, without a database round trip for a forged token seen before.

    Live tokens are looked up on every request, so revoking one (setting `revoked_at`, from any process)
    takes effect on its next request: there is no positive cache to fall out of step. The lookup runs on
    the event loop (db/reads.py's pool), on the request's own connection when the route holds one.
    `recent_user` is only a hint for the rate limiter (which bucket counts the request); it authenticates
    nobody.
    """

    def __init__(self, pool: AsyncConnectionPool, *, forged_ttl_s: float = FORGED_TOKEN_TTL_S) -> None:
        self._pool = pool
        self._forged = _ExpiringMap(forged_ttl_s, CACHE_CAPACITY)
        self._recent = _ExpiringMap(RECENT_TOKEN_TTL_S, CACHE_CAPACITY)

    async def user_for(self, token: str, connection: AsyncConnection[Any] | None = None) -> str | None:
        """The token's user, or None; looked up on `connection`, or on one of the pool's for this alone."""
        if self.known_forged(token):
            return None
        digest = hash_token(token)
        if connection is None:
            async with self._pool.connection() as own:
                user_id = await token_user(own, digest)
        else:
            user_id = await token_user(connection, digest)
        self.found(token, user_id)
        return user_id

    def known_forged(self, token: str) -> bool:
        """Looked up lately and found to be no live token: answered without the database."""
        return self._forged.get(hash_token(token)) is not None

    def found(self, token: str, user_id: str | None) -> None:
        """Record what a lookup found, `user_for`'s or one a route's query made itself (db/reads.py)."""
        digest = hash_token(token)
        TOKEN_LOOKUPS.labels("unknown" if user_id is None else "live").inc()
        if user_id is None:
            self._forged.put(digest, "forged")
            self._recent.discard(digest)  # revoked since it was last seen
        else:
            self._recent.put(digest, user_id)

    def recent_user(self, token: str) -> str | None:
        """The user this token belonged to when it was last verified, if it was lately; None otherwise."""
        return self._recent.get(hash_token(token))


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
