"""When an integration syncs next: the interval, its jitter, the back-off after failures, the pause.

Every finished run sets `next_sync_at` (whatever asked for it: a sync just happened). A `failed` run counts
one more failure in a row and doubles the wait (up to 64x); after `pause_after` of them the integration is
paused: `sync_status` ERROR, `sync_error` saying why and how to resume, no more scheduled runs. Any other
outcome ends the streak and the pause — so a user's successful sync resumes the schedule. The same streak is
what the monitor's "fails 3 times in a row" alert reads from the logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Numeric, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from integration_service.db.schema import integrations_credentials as credentials

MAX_BACKOFF_DOUBLINGS = 6
JITTER = 0.1  # up to a tenth of the interval, so integrations created together do not sync together
INTERVAL_OVERRIDE_KEY = "syncIntervalMinutes"  # customData's per-integration interval
MIN_OVERRIDE_MINUTES, MAX_OVERRIDE_MINUTES = 1, 7 * 24 * 60


@dataclass(frozen=True)
class SyncSchedule:
    interval_s: int
    pause_after: int

    def interval(self) -> ColumnElement[Any]:
        """Seconds between syncs of the integration in the row: its customData override, else the default."""
        override = credentials.c.custom_data[INTERVAL_OVERRIDE_KEY]
        # numeric, not float: a JSON number may have hundreds of digits, which a float cast refuses (an error
        # in the tick would stop every integration's schedule); clamped before it becomes seconds.
        minutes = func.least(MAX_OVERRIDE_MINUTES, func.greatest(MIN_OVERRIDE_MINUTES, cast(override.astext, Numeric)))
        seconds = cast(minutes * 60, Float)
        return case((func.jsonb_typeof(override) == "number", seconds), else_=literal(float(self.interval_s)))

    def next_at(self, failures: ColumnElement[Any]) -> ColumnElement[Any]:
        doublings = func.least(failures, MAX_BACKOFF_DOUBLINGS)
        return func.now() + _seconds(self.interval() * func.power(2, doublings) * (1 + func.random() * JITTER))

    def is_due(self) -> ColumnElement[bool]:
        """Active, not paused, and its time has come (a never-synced one counts from its creation)."""
        first = credentials.c.created_at + _seconds(self.interval())
        return (
            credentials.c.is_active.is_(True)
            & credentials.c.sync_paused_at.is_(None)
            & (func.coalesce(credentials.c.next_sync_at, first) <= func.now())
        )

    def after_run(self, status: str, message: str) -> dict[str, Any]:
        """The integration's columns once a run ended with `status` (`message` says how it went)."""
        if status != "failed":
            return {
                "sync_status": "SUCCESS" if status == "success" else "ERROR",
                "sync_error": None if status == "success" else message,
                "sync_failures": 0,
                "sync_paused_at": None,
                "next_sync_at": self.next_at(literal(0)),
            }
        failures = credentials.c.sync_failures + 1
        paused = failures >= self.pause_after
        reason = (
            f"paused after {self.pause_after} failed syncs in a row (last: {message}); fix the cause, then sync it "
            "(POST /api/integrations/sync): a run that does not fail resumes the schedule"
        )
        return {
            "sync_status": "ERROR",
            "sync_failures": failures,
            "next_sync_at": self.next_at(failures),
            "sync_paused_at": case((paused, func.coalesce(credentials.c.sync_paused_at, func.now())), else_=None),
            "sync_error": case((paused, literal(reason)), else_=literal(message)),
        }


def _seconds(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.make_interval(0, 0, 0, 0, 0, 0, value)
