"""`invoke token`: a token that authenticates, on the stage's database, printed alone on stdout."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from harness.core.paths import PROJECT_ROOT
from harness.stack.tokens import TokenError, database_engine, issue_stage_token, issue_token_on, remove_users
from integration_service.security.api_tokens import TOKEN_PREFIX, user_for_token
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
