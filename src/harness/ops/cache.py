"""Clear one stage's cache: only keys under its prefix, SCAN + UNLINK in batches, never FLUSHALL."""

from __future__ import annotations

import redis

from harness.ops.common import OpsError, Target, mask

BATCH = 500


def clear_stage_cache(target: Target, *, dry_run: bool = False) -> int | None:
    """The number of keys removed (or that would be); None when the stage has no Redis."""
    if target.redis_url is None:
        target.say("  cache: no REDIS_URL for this stage (in-process cache only; restarting the service cleared it)")
        return None
    prefix = target.redis_key_prefix.rstrip(":")
    if not prefix:
        raise OpsError("REDIS_KEY_PREFIX is empty: refusing to clear a shared Redis without a key prefix")
    pattern = redis_glob_escape(prefix) + ":*"
    client = redis.Redis.from_url(target.redis_url, socket_timeout=5, socket_connect_timeout=5)
    removed = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=BATCH):
            batch.append(key)
            if len(batch) >= BATCH:
                removed += _unlink(client, batch, dry_run)
                batch = []
        removed += _unlink(client, batch, dry_run)
    except redis.RedisError as exc:
        raise OpsError(f"clearing {pattern} on {mask(target.redis_url)} failed: {type(exc).__name__}: {exc}") from None
    finally:
        client.close()
    verb = "would remove" if dry_run else "removed"
    target.say(f"  cache: {verb} {removed} keys matching {pattern} on {mask(target.redis_url)}")
    return removed


def _unlink(client: redis.Redis, keys: list[bytes], dry_run: bool) -> int:
    if not keys:
        return 0
    if dry_run:
        return len(keys)
    removed: int = client.unlink(*keys)  # type: ignore[assignment]  # sync client
    return removed


def redis_glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
