"""A wall clock the control API can move forward, so expiry is testable without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Real UTC time plus an offset that only ever grows (time never runs backwards)."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        return self.now()

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()
