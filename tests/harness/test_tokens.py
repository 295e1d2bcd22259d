"""`invoke token`: a token that authenticates, on the stage's database, printed alone on stdout."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from harness.core.paths import PROJECT_ROOT
from harness.stack.tokens import TokenError, database_engine, issue_stage_token, issue_token_on, remove_users
from integration_service.security.api_tokens import TOKEN_PREFIX, hash_token, issue_token_at, user_for_token
from integration_service.settings import sqlalchemy_url


def owner_of(database_url: str, token: str) -> str | None:
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            user_id = user_for_token(connection, token)
            if user_id is None:
                return None
            name: str = connection.execute(text("SELECT name FROM users WHERE id = :id"), {"id": user_id}).scalar_one()
            return name
    finally:
        engine.dispose()


@pytest.mark.db
def test_a_release_stage_token_goes_to_that_stage_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    token = issue_stage_token("staging", "release-bot", label="ci")
    assert token.startswith(TOKEN_PREFIX)
    assert owner_of(database_url, token) == "release-bot"


@pytest.mark.db
def test_local_tokens_migrate_a_fresh_database_first(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    token = issue_stage_token("local", "developer")
    assert owner_of(empty_database_url, token) == "developer"


@pytest.mark.db
def test_an_unmigrated_release_database_is_a_clear_error(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    with pytest.raises(TokenError, match="could not issue a token on the production database: ProgrammingError"):
        issue_stage_token("production", "someone")


def test_an_empty_user_name_is_refused() -> None:
    with pytest.raises(TokenError, match="must not be empty"):
        issue_stage_token("local", "  ")


@pytest.mark.e2e  # an `invoke token` subprocess
@pytest.mark.db
def test_the_task_prints_only_the_token_on_stdout(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "token", "--user", "cli-user", "--stage", "staging"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith(TOKEN_PREFIX)
    assert "\n" not in token
    assert owner_of(database_url, token) == "cli-user"


@pytest.mark.db
def test_tokens_issued_and_removed_through_a_kept_engine(database_url: str) -> None:
    """The checklist scenarios' way: one engine for the whole run, still usable after each removal."""
    engine = database_engine(database_url)
    try:
        first = issue_token_on(database_url, "local", "scenario-ada", engine=engine)
        second = issue_token_on(database_url, "local", "scenario-bob", engine=engine)
        assert owner_of(database_url, first) == "scenario-ada"
        remove_users(database_url, ["scenario-ada"], engine=engine)
        assert owner_of(database_url, first) is None
        assert owner_of(database_url, second) == "scenario-bob"
        remove_users(database_url, ["scenario-bob"], engine=engine)  # the same engine serves the next removal
        assert owner_of(database_url, second) is None
    finally:
        engine.dispose()


def rate_limit_of(database_url: str, token: str) -> str | None:
    with psycopg.connect(database_url) as sql:
        row = sql.execute("SELECT rate_limit FROM api_tokens WHERE token_hash = %s", (hash_token(token),)).fetchone()
    assert row is not None
    return str(row[0]) if row[0] is not None else None


@pytest.mark.e2e  # an `invoke token` subprocess
@pytest.mark.db
def test_the_task_issues_a_token_with_a_rate_limit_of_its_own(database_url: str) -> None:
    def token_task(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "invoke", "token", "--user", "cli-fuzzer", "--stage", "staging", *options],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "DATABASE_URL": database_url},
        )

    raised = token_task("--rate-limit", "600/minute")
    assert raised.returncode == 0, raised.stderr
    assert rate_limit_of(database_url, raised.stdout.strip()) == "600/minute"
    ordinary = token_task()
    assert ordinary.returncode == 0, ordinary.stderr
    assert rate_limit_of(database_url, ordinary.stdout.strip()) is None  # the user's default

    refused = token_task("--rate-limit", "lots")
    assert refused.returncode == 2
    assert "TokenError" in refused.stderr
    assert "600/minute" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("malformed", ["lots", "0/minute", "600/fortnight", "600 per minute", "600/minute "])
def test_a_malformed_rate_limit_is_refused_before_any_database(malformed: str) -> None:
    with pytest.raises(TokenError, match="reads like '600/minute'"):
        issue_stage_token("production", "someone", rate_limit=malformed)


@pytest.mark.db
def test_the_database_refuses_a_rate_limit_the_service_could_not_read(database_url: str) -> None:
    token = issue_token_at(database_url, "limited", rate_limit="50/second")
    assert rate_limit_of(database_url, token) == "50/second"
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with pytest.raises(IntegrityError, match="ck_api_tokens_rate_limit_format"), engine.begin() as connection:
            connection.execute(
                text("UPDATE api_tokens SET rate_limit = 'lots' WHERE token_hash = :hash"), {"hash": hash_token(token)}
            )
    finally:
        engine.dispose()


@pytest.mark.db
def test_a_removal_that_deadlocks_with_a_webhook_being_applied_is_tried_again(database_url: str) -> None:
    """The webhook's transaction holds the user's second event and then wants the first; the removal holds the
    first (it deletes in order) and waits for the second: PostgreSQL aborts the removal, which then succeeds."""
    engine = database_engine(database_url)
    issue_token_on(database_url, "local", "scenario-dee", engine=engine)
    with psycopg.connect(database_url, autocommit=True) as sql:
        integration = sql.execute(
            "INSERT INTO integrations_credentials (user_id, integration_type, integration_name)"
            " SELECT id, 'PAYPAL', 'deadlock' FROM users WHERE name = 'scenario-dee' RETURNING id"
        ).fetchone()
        assert integration is not None
        events = [
            sql.execute(
                "INSERT INTO webhook_events (provider, event_id, event_type, integration_id, outcome, payload)"
                " VALUES ('paypal', %s, 'X', %s, 'applied', '{}') RETURNING id",
                (f"WH-{uuid.uuid4().hex}", integration[0]),
            ).fetchone()[0]  # type: ignore[index]
            for _ in range(2)
        ]
    failure: list[BaseException] = []

    def remove() -> None:
        try:
            remove_users(database_url, ["scenario-dee"], engine=engine)
        except BaseException as exc:
            failure.append(exc)

    try:
        with psycopg.connect(database_url) as webhook:
            webhook.execute("UPDATE webhook_events SET detail = 'applying' WHERE id = %s", (events[1],))
            removal = threading.Thread(target=remove)
            removal.start()
            wait_until_a_backend_waits_for_a_lock(sql_url=database_url)
            webhook.execute("UPDATE webhook_events SET detail = 'applied' WHERE id = %s", (events[0],))
            webhook.commit()
        removal.join(timeout=60)
        assert not removal.is_alive()
        assert failure == []
        with psycopg.connect(database_url) as sql:
            assert sql.execute("SELECT count(*) FROM users WHERE name = 'scenario-dee'").fetchone() == (0,)
    finally:
        engine.dispose()


def wait_until_a_backend_waits_for_a_lock(sql_url: str) -> None:
    with psycopg.connect(sql_url, autocommit=True) as sql:
        for _ in range(600):
            waiting = sql.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if waiting is not None and waiting[0] > 0:
                return
            time.sleep(0.05)
    raise AssertionError("the removal never waited for the webhook's lock")
