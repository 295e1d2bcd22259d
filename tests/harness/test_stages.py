"""Stage names and where each stage's configuration comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.settings import required_database_url, stage_env_file
from harness.core.stages import StageError, parse_stage


def test_known_stages_parse_and_others_are_refused() -> None:
    assert parse_stage("staging") == "staging"
    with pytest.raises(StageError, match="choose one of local, staging, production"):
        parse_stage("prod")


def test_each_stage_reads_its_own_file(tmp_path: Path) -> None:
    assert stage_env_file("local", tmp_path) == tmp_path / ".env"
    assert stage_env_file("production", tmp_path) == tmp_path / ".env.production"


def test_database_url_comes_from_the_stage_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / ".env.staging").write_text("DATABASE_URL=postgresql://app@staging-db/integrations\n")
    assert required_database_url("staging", tmp_path) == "postgresql://app@staging-db/integrations"


def test_the_environment_wins_over_the_stage_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env.staging").write_text("DATABASE_URL=postgresql://app@staging-db/integrations\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@elsewhere/integrations")
    assert required_database_url("staging", tmp_path) == "postgresql://app@elsewhere/integrations"


def test_a_missing_database_url_names_the_file_to_fill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(StageError, match=r"DATABASE_URL is not set for stage 'production'.*\.env\.production"):
        required_database_url("production", tmp_path)
