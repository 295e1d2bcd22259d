"""The schedule's arithmetic in SQL (sync/schedule.py) and the retry's "superseded" rule (jobs/tasks.py), on the
session's real PostgreSQL: what a user can put in customData must never break the tick for everyone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, select

from integration_service.db.schema import integrations_credentials as credentials
from integration_service.db.schema import integrations_sync_logs as sync_logs
from integration_service.db.schema import users
from integration_service.jobs.tasks import superseded
from integration_service.settings import sqlalchemy_url
from integration_service.sync.schedule import SyncSchedule

pytestmark = pytest.mark.db
SCHEDULE = SyncSchedule(interval_s=3600, pause_after=5)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = create_engine(sqlalchemy_url(database_url))
    yield made
    made.dispose()


def new_integration(engine: Engine, custom_data: dict[str, Any]) -> uuid.UUID:
    with engine.begin() as connection:
        user_id = connection.execute(insert(users).values(name=f"u-{uuid.uuid4().hex}").returning(users.c.id)).scalar()
        integration_id: uuid.UUID = connection.execute(
            insert(credentials)
            .values(
                user_id=user_id,
                integration_type="XERO",
                integration_name=f"books-{uuid.uuid4().hex[:6]}",
                custom_data=custom_data,
            )
            .returning(credentials.c.id)
        ).scalar_one()
    return integration_id


@pytest.mark.parametrize(
    ("override", "seconds"),
    [
        (15, 900.0),
        (0.5, 60.0),  # at least a minute
        (-5, 60.0),
        (10**400, 10080 * 60.0),  # 400 digits: at most a week, and no float overflow in the tick
        (7 * 24 * 60 * 10, 10080 * 60.0),
        ("15", 3600.0),  # not a number: the default
        ({"minutes": 15}, 3600.0),
        (None, 3600.0),
    ],
    ids=["15", "half", "negative", "400-digits", "ten-weeks", "string", "object", "null"],
)
def test_an_interval_override_is_clamped_or_ignored_never_an_error(
    engine: Engine, override: Any, seconds: float
) -> None:
    integration_id = new_integration(engine, {"syncIntervalMinutes": override})
    with engine.connect() as connection:
        interval = connection.execute(select(SCHEDULE.interval()).where(credentials.c.id == integration_id)).scalar()
        due = connection.execute(select(credentials.c.id).where(SCHEDULE.is_due(), credentials.c.id == integration_id))
        assert due.all() == []  # created just now: its first run is an interval away
    assert interval == pytest.approx(seconds)


def test_a_failed_run_doubles_the_wait_and_the_last_allowed_failure_pauses(engine: Engine) -> None:
    integration_id = new_integration(engine, {"syncIntervalMinutes": 10})
    schedule = SyncSchedule(interval_s=3600, pause_after=2)
    seen = []
    for _ in range(2):
        with engine.begin() as connection:
            connection.execute(
                credentials.update()
                .where(credentials.c.id == integration_id)
                .values(**schedule.after_run("failed", "HTTP 401"))
            )
            row = connection.execute(
                select(
                    credentials.c.sync_failures,
                    credentials.c.sync_paused_at.is_not(None),
                    credentials.c.sync_error,
                    (credentials.c.next_sync_at - credentials.c.updated_at).label("wait"),
                ).where(credentials.c.id == integration_id)
            ).one()
        seen.append(row)
    first, second = seen
    assert (first.sync_failures, first[1]) == (1, False)
    assert 1200 <= first.wait.total_seconds() <= 1200 * 1.1 + 1  # 10 minutes doubled, jitter up to a tenth
    assert (second.sync_failures, second[1]) == (2, True)
    assert second.sync_error.startswith("paused after 2 failed syncs in a row (last: HTTP 401)")


def log_row(engine: Engine, integration_id: uuid.UUID, status: str, job_id: int) -> uuid.UUID:
    with engine.begin() as connection:
        user_id = connection.execute(
            select(credentials.c.user_id).where(credentials.c.id == integration_id)
        ).scalar_one()
        log_id: uuid.UUID = connection.execute(
            insert(sync_logs)
            .values(
                integration_id=integration_id,
                user_id=user_id,
                integration_type="XERO",
                sync_type="invoices",
                status=status,
                job_id=job_id,
            )
            .returning(sync_logs.c.id)
        ).scalar_one()
    return log_id


def test_a_retry_is_superseded_by_another_jobs_newer_run_not_by_its_own_dead_attempt(engine: Engine) -> None:
    integration_id = new_integration(engine, {})
    first = log_row(engine, integration_id, "failed", job_id=7)  # closed as interrupted when the job was retried
    log_row(engine, integration_id, "running", job_id=7)  # the retry's attempt, whose worker died too
    assert not superseded(engine, first), "the job's own later attempt made it skip: the sync would be dropped"
    log_row(engine, integration_id, "success", job_id=8)  # meanwhile another request's run
    assert superseded(engine, first)
