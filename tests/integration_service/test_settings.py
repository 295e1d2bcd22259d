"""Settings refuse what must not run outside the local stage, and never echo a secret doing so."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from integration_service.settings import (
    DEVELOPMENT_ENCRYPTION_KEY,
    ConfigurationError,
    Settings,
    sqlalchemy_url,
)

REAL_KEY = Fernet.generate_key().decode()


class WithProviderUrl(Settings):
    xero_api_base_url: str = "https://api.xero.com"


def test_local_stage_runs_on_development_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.stage == "local"
    assert settings.encryption_keys[0].get_secret_value() == DEVELOPMENT_ENCRYPTION_KEY


@pytest.mark.parametrize("stage", ["staging", "production"])
def test_deployed_stages_refuse_the_development_key(stage: str) -> None:
    with pytest.raises(ValidationError, match="public development key"):
        Settings(_env_file=None, stage=stage)  # type: ignore[call-arg]


def test_deployed_stages_refuse_wildcard_cors() -> None:
    with pytest.raises(ValidationError, match="CORS_ALLOWED_ORIGINS"):
        Settings(
            _env_file=None,
            stage="production",
            encryption_keys=REAL_KEY,  # type: ignore[call-arg]
            cors_allowed_origins="*",
        )


def test_deployed_stages_refuse_plain_http_provider_urls() -> None:
    with pytest.raises(ValidationError, match="XERO_API_BASE_URL must be an https:// URL"):
        WithProviderUrl(
            _env_file=None,
            stage="staging",
            encryption_keys=REAL_KEY,  # type: ignore[call-arg]
            xero_api_base_url="http://127.0.0.1:9000/xero/api",
        )
    accepted = WithProviderUrl(_env_file=None, stage="staging", encryption_keys=REAL_KEY)  # type: ignore[call-arg]
    assert accepted.provider_base_urls() == {"XERO_API_BASE_URL": "https://api.xero.com"}


def test_a_valid_deployment_configuration_is_accepted() -> None:
    settings = Settings(
        _env_file=None,
        stage="production",
        encryption_keys=f"{REAL_KEY},{DEVELOPMENT_ENCRYPTION_KEY[:0]}",  # type: ignore[call-arg]
        cors_allowed_origins="https://crm.example.com, https://admin.example.com",
    )
    assert settings.cors_allowed_origins == ["https://crm.example.com", "https://admin.example.com"]
    assert len(settings.encryption_keys) == 1


def test_an_invalid_key_is_reported_by_position_not_value() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, encryption_keys=f"{REAL_KEY},not-a-key-but-a-secret")  # type: ignore[call-arg]
    assert "entry 2" in str(raised.value)
    assert "not-a-key-but-a-secret" not in str(raised.value)
    assert REAL_KEY not in str(raised.value)


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_urls_name_the_psycopg_driver(given: str, expected: str) -> None:
    assert sqlalchemy_url(given) == expected


def test_other_databases_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="postgresql://"):
        sqlalchemy_url("mysql://u@h/db")
