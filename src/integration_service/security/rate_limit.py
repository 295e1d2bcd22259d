"""Request rate limits with the `limits` library: Redis when configured, process memory otherwise."""

from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import structlog
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from integration_service.settings import Settings

log = structlog.get_logger(__name__)
# Tokens' own limits, parsed once each: few distinct values, read on every request of such a token.
_parsed = functools.lru_cache(maxsize=64)(parse)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class _Windows(Protocol):
    def hit(self, item: RateLimitItem, bucket: tuple[str, ...]) -> tuple[bool, float]:
        """Count one request; whether it is allowed, and when (epoch seconds) the bucket's window resets."""
        ...


class _SharedWindows:
    """Fixed windows in a `limits` storage (Redis): every process counts against the same buckets."""

    def __init__(self, storage: Storage) -> None:
        self._limiter = FixedWindowRateLimiter(storage)

    def hit(self, item: RateLimitItem, bucket: tuple[str, ...]) -> tuple[bool, float]:
        if self._limiter.hit(item, *bucket):
            return True, 0.0
        return False, self._limiter.get_window_stats(item, *bucket).reset_time


class _ProcessWindows:
    """Fixed windows counted in this process's memory. Not `limits`' MemoryStorage: under load it starts a
    timer thread every 10 ms to expire keys (measured: ~9 % of the event loop's time at saturation); here
    a window is renewed when next hit, and stale ones are swept when the map grows."""

    SWEEP_ABOVE = 10_000

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}  # bucket key -> (window end, requests counted)
        self._lock = threading.Lock()  # the middleware runs on the event loop; tests may call from threads

    def hit(self, item: RateLimitItem, bucket: tuple[str, ...]) -> tuple[bool, float]:
        key, now = item.key_for(*bucket), time.time()
        with self._lock:
            ends, count = self._windows.get(key, (0.0, 0))
            if ends <= now:
                ends, count = now + item.get_expiry(), 0
            self._windows[key] = (ends, count + 1)
            if len(self._windows) > self.SWEEP_ABOVE:
                self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
        return count < item.amount, ends


class RateLimiter:
    def __init__(self, windows: _Windows, default_limit: str, webhook_limit: str) -> None:
        self._windows = windows
        self._default: RateLimitItem = parse(default_limit)
        self._webhook: RateLimitItem = parse(webhook_limit)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        windows: _Windows
        if settings.redis_url is not None:
            # The prefix keeps this stage's counters apart from anything else on the server.
            windows = _SharedWindows(
                RedisStorage(
                    settings.redis_url.get_secret_value(),
                    key_prefix=f"{settings.redis_key_prefix}:ratelimit",
                    wrap_exceptions=True,
                    socket_timeout=1,
                )
            )
        else:
            windows = _ProcessWindows()
        return cls(windows, settings.rate_limit, settings.webhook_rate_limit)

    def hit(self, *bucket: str, webhook: bool = False, limit: str | None = None) -> Verdict:
        """Count one request against `bucket`, e.g. ("user", user_id) or ("address", "203.0.113.7"), at
        `limit` (e.g. "600/minute", a token's own) or else the default or webhook limit."""
        item = _parsed(limit) if limit is not None else self._webhook if webhook else self._default
        try:
            allowed, reset_at = self._windows.hit(item, bucket)
        except StorageError as exc:
            # Fail open: an outage of the limiter's store must not take the API down with it.
            # Health reports Redis as unreachable (503), which is what alerts someone.
            log.warning("rate limiter storage unavailable; request allowed", error_class=type(exc).__name__)
            return Verdict(True, 0)
        if allowed:
            return Verdict(True, 0)
        return Verdict(False, max(1, math.ceil(reset_at - time.time())))
