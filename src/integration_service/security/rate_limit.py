"""Request rate limits with the `limits` library: Redis when configured, process memory otherwise."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from integration_service.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class RateLimiter:
    def __init__(self, storage: Storage, default_limit: str, webhook_limit: str) -> None:
        self._limiter = FixedWindowRateLimiter(storage)
        self._default: RateLimitItem = parse(default_limit)
        self._webhook: RateLimitItem = parse(webhook_limit)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        storage: Storage
        if settings.redis_url is not None:
            # The prefix keeps this stage's counters apart from anything else on the server.
            storage = RedisStorage(
                settings.redis_url.get_secret_value(),
                key_prefix=f"{settings.redis_key_prefix}:ratelimit",
                wrap_exceptions=True,
                socket_timeout=1,
            )
        else:
            storage = MemoryStorage()
        return cls(storage, settings.rate_limit, settings.webhook_rate_limit)

    def hit(self, *bucket: str, webhook: bool = False) -> Verdict:
        """Count one request against `bucket`, e.g. ("user", user_id) or ("address", "203.0.113.7")."""
        item = self._webhook if webhook else self._default
        try:
            if self._limiter.hit(item, *bucket):
                return Verdict(True, 0)
            reset_at = self._limiter.get_window_stats(item, *bucket).reset_time
        except StorageError as exc:
            # Fail open: an outage of the limiter's store must not take the API down with it.
            # Health reports Redis as unreachable (503), which is what alerts someone.
            log.warning("rate limiter storage unavailable; request allowed", error_class=type(exc).__name__)
            return Verdict(True, 0)
        return Verdict(False, max(1, math.ceil(reset_at - time.time())))
