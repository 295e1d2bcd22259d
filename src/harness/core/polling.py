"""Waiting, bounded, for another process to get somewhere: the one polling loop the harness and its tests use."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float = 60.0,
    every_s: float = 0.1,
    failure: Callable[[str], Exception] = AssertionError,
) -> T:
    """Poll `probe` until it returns something truthy and return that; after `timeout_s` (a bound on waiting
    for another process, never a timing assertion) raise `failure` naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every_s)
    raise failure(f"gave up after {timeout_s:.0f} s waiting for {what}")
