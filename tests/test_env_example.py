""".env.example documents every setting, marks every secret, and holds only non-production values."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from harness.core.settings import StageSettings
from integration_service.settings import ConfigurationError, Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
# `NAME=value`, or `# NAME=value` for a variable documented but left unset.
_ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=")


def documented_variables(text: str) -> dict[str, bool]:
    """Each variable the file documents, and whether the comment block right above it says SENSITIVE."""
    found: dict[str, bool] = {}
    comment_block: list[str] = []
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            found[match.group(1)] = any("SENSITIVE" in comment for comment in comment_block)
            comment_block = []
        elif line.startswith("#"):
            comment_block.append(line)
        else:
            comment_block = []
    return found


def env_name(field_name: str) -> str:
    return (str(Settings.model_config.get("env_prefix", "")) + field_name).upper()


def is_secret(annotation: object) -> bool:
    return annotation is SecretStr or any(is_secret(argument) for argument in typing.get_args(annotation))


# The harness reads a few stage settings of its own (where the stage's service answers, how it deploys).
OPERATIONS_ONLY = {name.upper() for name in StageSettings.model_fields} - {
    name.upper() for name in Settings.model_fields
}


def test_every_setting_is_documented() -> None:
    documented = documented_variables(ENV_EXAMPLE.read_text())
    wanted = [env_name(name) for name in Settings.model_fields] + sorted(OPERATIONS_ONLY)
    missing = [name for name in wanted if name not in documented]
    assert not missing, f"add these to .env.example: {', '.join(missing)}"


def test_every_secret_setting_is_marked_sensitive() -> None:
    documented = documented_variables(ENV_EXAMPLE.read_text())
    fields = {**StageSettings.model_fields, **Settings.model_fields}
    secrets = [env_name(name) for name, field in fields.items() if is_secret(field.annotation)]
    assert "ENCRYPTION_KEYS" in secrets  # list[SecretStr] counts as a secret too
    unmarked = [name for name in secrets if not documented.get(name)]
    assert not unmarked, f"mark these with a '# SENSITIVE' comment right above them: {', '.join(unmarked)}"


def test_nothing_documented_is_unknown_to_settings() -> None:
    known = {env_name(name) for name in Settings.model_fields} | OPERATIONS_ONLY
    stray = sorted(set(documented_variables(ENV_EXAMPLE.read_text())) - known)
    assert not stray, f"no setting reads these: {', '.join(stray)}"


def test_the_parser_sees_marks_and_unset_variables() -> None:
    parsed = documented_variables("# SENSITIVE: a key\n# KEY=abc\nPLAIN=1\n# a note\n\n# SENSITIVE\nX=\n")
    assert parsed == {"KEY": True, "PLAIN": False, "X": True}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the file speaks: variables from the shell (e.g. CI's DATABASE_URL) would win over it."""
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)


@pytest.mark.usefixtures("clean_environment")
def test_the_example_values_are_valid_for_the_local_stage() -> None:
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.stage == "local"


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("stage", ["staging", "production"])
def test_the_example_values_are_refused_outside_local(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", stage)
    with pytest.raises((ValidationError, ConfigurationError), match="development key"):
        Settings(_env_file=ENV_EXAMPLE)
