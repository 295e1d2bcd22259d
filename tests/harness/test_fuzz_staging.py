"""`invoke fuzz --stage staging`: its token has a raised limit of its own and is dead after the run; production
is refused (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.core.stages import StageError
from harness.gates import fuzz
from harness.gates.fuzz import FuzzOutcome, issue_fuzz_token, run_fuzz
from integration_service.security.api_tokens import hash_token


def token_row(database_url: str, token: str) -> tuple[Any, ...] | None:
    """(user name, rate limit, revoked) of the token, or None when it is gone."""
    with psycopg.connect(database_url) as sql:
        return sql.execute(
            "SELECT u.name, t.rate_limit, t.revoked_at IS NOT NULL FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.token_hash = %s",
            (hash_token(token),),
        ).fetchone()


@pytest.mark.db
def test_the_staging_fuzz_token_has_the_stage_configured_raised_limit(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUZZ_TOKEN_RATE_LIMIT", "900/minute")
    user, token = issue_fuzz_token(database_url, "staging")
    assert user.startswith("qa-fuzz-")
    assert token_row(database_url, token) == (user, "900/minute", False)


@pytest.mark.db
def test_the_staging_fuzz_token_defaults_to_twice_the_service_default(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FUZZ_TOKEN_RATE_LIMIT", raising=False)
    user, token = issue_fuzz_token(database_url, "staging")
    assert token_row(database_url, token) == (user, "1200/minute", False)  # RATE_LIMIT's default: 600/minute


@pytest.mark.db
def test_a_staging_fuzz_run_uses_the_raised_token_and_leaves_it_dead(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SERVICE_URL", "https://staging.example.invalid")
    monkeypatch.delenv("SANDBOX_URL", raising=False)
    monkeypatch.setenv("FUZZ_TOKEN_RATE_LIMIT", "2000/minute")
    seen: dict[str, Any] = {}

    def schemathesis(schema_url: str, token: str, report_dir: Path, extra_args: list[str], **_: Any) -> FuzzOutcome:
        seen["token"], seen["during"], seen["args"] = token, token_row(database_url, token), extra_args
        return FuzzOutcome(0, report_dir, 1, 0, 0, None, reach_judged=False)

    monkeypatch.setattr(fuzz, "run_schemathesis", schemathesis)
    outcome = run_fuzz("staging", tmp_path)
    assert outcome.passed
    name, limit, revoked = seen["during"]
    assert (limit, revoked) == ("2000/minute", False)
    assert "--rate-limit" in seen["args"]  # still paced: staging is shared
    assert token_row(database_url, seen["token"]) is None  # revoked, then removed with its user
    with psycopg.connect(database_url) as sql:
        assert sql.execute("SELECT count(*) FROM users WHERE name = %s", (name,)).fetchone() == (0,)


def test_production_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="refuses production"):
        run_fuzz("production", tmp_path)
