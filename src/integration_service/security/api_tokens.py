"""Bearer API tokens: random, shown once, stored only as a SHA-256 hash.

A token carries 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Connection, create_engine, select
from sqlalchemy.dialects.postgresql import insert

from integration_service.db.reads import token_owner
from integration_service.db.schema import RATE_LIMIT_FORMAT, api_tokens, users
from integration_service.metrics import TOKEN_LOOKUPS
from integration_service.settings import sqlalchemy_url

TOKEN_PREFIX = "isk_"  # noqa: S105 - a public prefix that makes leaked tokens recognisable
# A made-up token is answered from memory for this long: long enough that repeating it is free, short
# enough that the memory stays small. (No real token can appear later under a forged one's hash.)
FORGED_TOKEN_TTL_S = 60.0
# Which user a live token belongs to, remembered only to pick its rate-limit bucket before the lookup.
RECENT_TOKEN_TTL_S = 600.0
CACHE_CAPACITY = 10_000  # per map and process; the oldest entries go first
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who a live token belongs to, and what its requests count against: its own limit (`rate_limit`,
    e.g. "600/minute", in a bucket of the token alone) or, when None, its user's default limit."""

    user_id: str
    token_hash: str
    rate_limit: str | None


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


class _ExpiringMap(Generic[V]):
    """A bounded, thread-safe map whose entries expire; when full, the oldest entry makes room."""

    def __init__(self, ttl_s: float, capacity: int) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return entry[1]

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (time.monotonic() + self._ttl_s, value)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def renew(self, key: str) -> None:
        """A live entry lives on, as if put again now; a missing or expired one is not brought back."""
        with self._lock:
            entry = self._entries.get(key)
            now = time.monotonic()
            if entry is not None and entry[0] >= now:
                self._entries[key] = (now + self._ttl_s, entry[1])
                self._entries.move_to_end(key)

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class TokenVerifier:
    """Who a presented token belongs to, without a database round trip for a forged token seen before.

    Live tokens are looked up on every request, so revoking one (setting `revoked_at`, from any process)
    takes effect on its next request: there is no positive cache to fall out of step. The lookup runs on
    the event loop (db/reads.py's pool), on the request's own connection when the route holds one.
    `recent_owner` is only a hint for the rate limiter (which bucket and limit count the request, read
    with the owner in the same lookup, so the hint costs nothing more); it authenticates nobody.
    """

    def __init__(self, pool: AsyncConnectionPool, *, forged_ttl_s: float = FORGED_TOKEN_TTL_S) -> None:
        self._pool = pool
        self._forged: _ExpiringMap[str] = _ExpiringMap(forged_ttl_s, CACHE_CAPACITY)
        self._recent: _ExpiringMap[TokenOwner] = _ExpiringMap(RECENT_TOKEN_TTL_S, CACHE_CAPACITY)

    async def user_for(self, token: str, connection: AsyncConnection[Any] | None = None) -> str | None:
        """The token's user, or None; looked up on `connection`, or on one of the pool's for this alone."""
        owner = await self.owner_for(token, connection)
        return None if owner is None else owner.user_id

    async def owner_for(self, token: str, connection: AsyncConnection[Any] | None = None) -> TokenOwner | None:
        """`user_for`, with the token's own rate limit."""
        if self.known_forged(token):
            return None
        digest = hash_token(token)
        if connection is None:
            async with self._pool.connection() as own:
                row = await token_owner(own, digest)
        else:
            row = await token_owner(connection, digest)
        TOKEN_LOOKUPS.labels("unknown" if row is None else "live").inc()
        if row is None:
            self._forged.put(digest, "forged")
            self._recent.discard(digest)  # revoked since it was last seen
            return None
        owner = TokenOwner(row[0], digest, row[1])
        self._recent.put(digest, owner)
        return owner

    def known_forged(self, token: str) -> bool:
        """Looked up lately and found to be no live token: answered without the database."""
        return self._forged.get(hash_token(token)) is not None

    def found(self, token: str) -> None:
        """Record that a route's own query (db/reads.py) found the token live: its recent entry, made by the
        rate limiter's lookup with the token's limit, lives on. Without one, nothing is remembered (that
        query does not read the limit): the next request's lookup makes it."""
        TOKEN_LOOKUPS.labels("live").inc()
        self._recent.renew(hash_token(token))

    def recent_owner(self, token: str) -> TokenOwner | None:
        """Who this token belonged to (and its limit) when it was last verified, if lately; None otherwise."""
        return self._recent.get(hash_token(token))


def check_rate_limit(rate_limit: str) -> str:
    """`rate_limit` if it is a token's limit the service counts ("<count>/<second|minute|hour|day>"),
    else ValueError saying so."""
    if not re.fullmatch(RATE_LIMIT_FORMAT, rate_limit):
        raise ValueError(f"a token's rate limit reads like '600/minute' (second, minute, hour or day): {rate_limit!r}")
    return rate_limit


def issue_token(connection: Connection, user_name: str, label: str = "", rate_limit: str | None = None) -> str:
    """Create the user if needed and a new token for it; the token is returned once and not kept.
    `rate_limit`: the token's own limit, counted for it alone (None: the user's default, shared)."""
    if rate_limit is not None:
        check_rate_limit(rate_limit)
    connection.execute(insert(users).values(name=user_name).on_conflict_do_nothing(index_elements=["name"]))
    user_id = connection.execute(select(users.c.id).where(users.c.name == user_name)).scalar_one()
    token = new_token()
    connection.execute(
        api_tokens.insert().values(user_id=user_id, token_hash=hash_token(token), label=label, rate_limit=rate_limit)
    )
    return token


def issue_token_at(database_url: str, user_name: str, label: str = "", rate_limit: str | None = None) -> str:
    """`issue_token` against a database given by URL: for `invoke token` and the test fixtures."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.begin() as connection:
            return issue_token(connection, user_name, label, rate_limit)
    finally:
        engine.dispose()
