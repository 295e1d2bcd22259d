"""The monitor's and the reports' own queries, run over one scenario's rows on a shared stage.

On staging the daily checks, alert rules and weekly/monthly reports see every user's rows, so a
scenario cannot expect exact totals. It runs them twice: once as `invoke monitor` / `invoke report`
do, on the whole stage (its rows must be covered: present, counted at least as often as it made
them), and once with the same SQL text over its own rows only (exact). The second run shadows the
tables the queries read with temporary views holding the scenario users' rows: PostgreSQL looks up
unqualified names in the session's temporary schema first, and the views vanish with the connection,
so nothing on the stage changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from harness.ops.monitor import DAILY_CHECKS, RULES, STUCK_SYNC_MINUTES, MonitorResult
from harness.ops.periodic_checks import MONTHLY, WEEKLY
from steps.common import World
from steps.support.lab import matches_table

Rows = list[dict[str, Any]]
OWNED_BY_USER = ("integrations_credentials", "integrations_sync_logs", "stripe_payments", "paypal_payments")


@contextmanager
def own_rows(world: World) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A connection to the stage's database on which the monitored tables hold only the scenario's rows."""
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: the monitor and the reports read the stage's database")
    accounts = [user.account for user in world.users.values()]
    assert accounts, "the scenario made no user of its own: there are no rows of its own to look at"
    with psycopg.connect(world.target.database_url, row_factory=dict_row, autocommit=True) as connection:
        found = connection.execute("SELECT id FROM public.users WHERE name = ANY(%s)", [accounts]).fetchall()
        users = sql.Literal([str(row["id"]) for row in found])
        for table in OWNED_BY_USER:
            connection.execute(
                sql.SQL("CREATE TEMP VIEW {0} AS SELECT * FROM public.{0} WHERE user_id = ANY({1})").format(
                    sql.Identifier(table), users
                )
            )
        connection.execute(
            sql.SQL(
                "CREATE TEMP VIEW webhook_events AS SELECT * FROM public.webhook_events WHERE integration_id IN"
                " (SELECT id FROM public.integrations_credentials WHERE user_id = ANY({}))"
            ).format(users)
        )
        yield connection


def plain_rows(connection: psycopg.Connection[dict[str, Any]], query: str, parameters: Any = None) -> Rows:
    found = connection.execute(query, parameters).fetchall()
    return [{k: v if isinstance(v, str | int | float | None) else str(v) for k, v in row.items()} for row in found]


@dataclass(frozen=True)
class StageMonitor:
    """The monitor run on the whole stage, and its daily checks and SQL alert rules over the scenario's own rows."""

    result: MonitorResult
    own: dict[str, dict[str, Rows]]  # "daily" | "alerts" -> check or rule -> rows


@dataclass(frozen=True)
class StageReport:
    """A weekly or monthly report built from the whole stage, and its SQL sections over the scenario's own rows."""

    report: dict[str, Any]
    own: dict[str, Rows]


def own_monitor(world: World) -> dict[str, dict[str, Rows]]:
    """The daily checks and the SQL alert rules (all but the pool's) over the scenario's own rows."""
    parameters = {"stuck_after_s": STUCK_SYNC_MINUTES * 60}
    with own_rows(world) as connection:
        daily = {name: plain_rows(connection, query) for name, query in DAILY_CHECKS.items()}
        alerts = {
            rule: plain_rows(connection, query, parameters if "%(" in query else None)
            for rule, (_, query) in RULES.items()
            if query
        }
    return {"daily": daily, "alerts": alerts}


def own_report(world: World, period: str) -> dict[str, Rows]:
    """The weekly (or monthly) report's SQL sections over the scenario's own rows."""
    queries = WEEKLY if period == "weekly" else {**WEEKLY, **MONTHLY}
    with own_rows(world) as connection:
        return {name: plain_rows(connection, query) for name, query in queries.items()}


def assert_covers(what: str, stage: Rows, own: Rows, datatable: list[list[str]]) -> None:
    """Over its own rows the query gives exactly the table; on the whole stage, each of the table's rows is
    there (same text columns) with each count at least the scenario's own."""
    wanted, shown = matches_table(own, datatable)
    assert shown == wanted, f"{what} over the scenario's own rows: expected {wanted}, got {shown}"
    header = [cell.strip() for cell in datatable[0]]
    for line in datatable[1:]:
        row = dict(zip(header, (cell.strip() for cell in line), strict=True))
        counts = [column for column, value in row.items() if value.isdigit()]
        keys = [column for column in row if column not in counts]
        same = [r for r in stage if all(str(r.get(column)) == row[column] for column in keys)]
        assert len(same) == 1, f"{what} on the stage: expected one row for {row} (the scenario's own), got {same}"
        short = [c for c in counts if float(same[0][c] or 0) < int(row[c])]
        assert short == [], f"{what} on the stage counts fewer than the scenario's own {row}: {same[0]}"
