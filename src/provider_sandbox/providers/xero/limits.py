"""Xero's API call budgets ("OAuth 2.0 API limits"), counted as Xero counts them.

Per app and organisation (tenant): 60 calls in any rolling minute and 5,000 in any rolling day; per app,
10,000 calls a minute across all its organisations. Every answered Accounting API call is counted (a 400
or 404 too: Xero did the work); a call refused with 429 is not. Every counted or refused call carries
what is left (X-DayLimit-Remaining, X-MinLimit-Remaining, X-AppMinLimit-Remaining); a refusal also says
which limit was hit (X-Rate-Limit-Problem: minute, day or appminute) and when to retry (Retry-After, in
seconds until the oldest call in that window rolls out). When several limits are spent, the one with
the longest wait is named: retrying any sooner would be refused again.

Not simulated: the concurrent limit (5 calls in progress per organisation). Time is the sandbox clock, so
`POST /_sandbox/clock/advance` lets a test skip a minute.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from provider_sandbox.core.config import XeroLimits

MINUTE_S = 60.0
DAY_S = 86_400.0
REMAINING_HEADERS = {
    "day": "X-DayLimit-Remaining",
    "minute": "X-MinLimit-Remaining",
    "appminute": "X-AppMinLimit-Remaining",
}


class RollingWindow:
    """The moments (sandbox-clock seconds) of the calls made in the last `span_s` seconds."""

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self._calls: deque[float] = deque()

    def used(self, now: float) -> int:
        while self._calls and self._calls[0] <= now - self.span_s:
            self._calls.popleft()
        return len(self._calls)

    def wait_s(self, now: float, limit: int) -> float:
        """Seconds until one more call fits under `limit` (0: it fits now)."""
        used = self.used(now)
        if used < limit:
            return 0.0
        # Once the call at index used-limit rolls out, limit-1 calls remain.
        return self._calls[used - limit] + self.span_s - now

    def add(self, now: float) -> None:
        self._calls.append(now)


@dataclass(frozen=True)
class Verdict:
    """A call's fate: the remaining-budget headers, and for a refusal the limit hit and the wait."""

    headers: dict[str, str]
    limit_problem: str | None = None
    retry_after_s: int = 0


class XeroBudgets:
    """Every app's and organisation's windows; `limits` may change while running (the control API)."""

    def __init__(self, limits: XeroLimits) -> None:
        self.limits = limits
        self._minute: dict[tuple[str, str], RollingWindow] = {}
        self._day: dict[tuple[str, str], RollingWindow] = {}
        self._app_minute: dict[str, RollingWindow] = {}

    def charge(self, client_id: str, tenant_id: str, now: float) -> Verdict:
        """Count one call of `client_id` on `tenant_id`, or refuse it if a budget is spent."""
        windows = self._windows(client_id, tenant_id)
        waits = {problem: window.wait_s(now, limit) for problem, (window, limit) in windows.items()}
        spent = {problem: wait for problem, wait in waits.items() if wait > 0}
        if spent:
            worst = max(spent, key=lambda problem: spent[problem])
            return Verdict(self._remaining(windows, now), worst, max(1, math.ceil(spent[worst])))
        for window, _ in windows.values():
            window.add(now)
        return Verdict(self._remaining(windows, now))

    def unspent_headers(self) -> dict[str, str]:
        """The headers of an app and organisation that made no call yet (whole budgets)."""
        whole = {"day": self.limits.per_day, "minute": self.limits.per_minute, "appminute": self.limits.app_per_minute}
        return {REMAINING_HEADERS[problem]: str(limit) for problem, limit in whole.items()}

    def _windows(self, client_id: str, tenant_id: str) -> dict[str, tuple[RollingWindow, int]]:
        key = (client_id, tenant_id)
        return {
            "day": (self._day.setdefault(key, RollingWindow(DAY_S)), self.limits.per_day),
            "minute": (self._minute.setdefault(key, RollingWindow(MINUTE_S)), self.limits.per_minute),
            "appminute": (self._app_minute.setdefault(client_id, RollingWindow(MINUTE_S)), self.limits.app_per_minute),
        }

    @staticmethod
    def _remaining(windows: dict[str, tuple[RollingWindow, int]], now: float) -> dict[str, str]:
        return {
            REMAINING_HEADERS[problem]: str(max(limit - window.used(now), 0))
            for problem, (window, limit) in windows.items()
        }
