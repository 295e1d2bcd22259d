"""Settings refuse what must not run outside the local stage, and never echo a secret doing so."""

from __future__ import annotations

from typing import Any

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


def settings(**values: Any) -> Settings:
    """Settings from these values only, not from the environment or a .env file."""
    return Settings(_env_file=None, **values)


def deployed(**overrides: Any) -> Settings:
    """A staging configuration that is valid unless an override breaks it."""
    return settings(
        **{
            "stage": "staging",
            "encryption_keys": REAL_KEY,
            "public_url": "https://crm.example.com",
            **overrides,
        }
    )


def test_local_stage_runs_on_development_defaults() -> None:
    local = settings()
    assert local.stage == "local"
    assert local.encryption_keys[0].get_secret_value() == DEVELOPMENT_ENCRYPTION_KEY


def test_a_valid_deployment_configuration_is_accepted() -> None:
    accepted = deployed(stage="production", cors_allowed_origins="https://crm.example.com, https://admin.example.com")
    assert accepted.cors_allowed_origins == ["https://crm.example.com", "https://admin.example.com"]
    assert accepted.provider_base_urls()["XERO_API_BASE_URL"] == "https://api.xero.com"
    assert all(
        url.startswith("https://") for name, url in accepted.provider_base_urls().items() if name != "MAUTIC_BASE_URL"
    )
    assert accepted.mautic_base_url == ""  # Mautic left out: optional, not an error


def test_a_configured_mautic_instance_must_be_https_outside_local() -> None:
    assert deployed(mautic_base_url="https://mautic.example.com").mautic_base_url == "https://mautic.example.com"
    with pytest.raises(ValidationError, match="MAUTIC_BASE_URL must be an https:// URL"):
        deployed(mautic_base_url="http://mautic.example.com")


@pytest.mark.parametrize("stage", ["staging", "production"])
def test_deployed_stages_refuse_the_development_key(stage: str) -> None:
    with pytest.raises(ValidationError, match="public development key"):
        deployed(stage=stage, encryption_keys=DEVELOPMENT_ENCRYPTION_KEY)


def test_deployed_stages_refuse_wildcard_cors() -> None:
    with pytest.raises(ValidationError, match="CORS_ALLOWED_ORIGINS"):
        deployed(cors_allowed_origins="*")


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("xero_api_base_url", "XERO_API_BASE_URL"),
        ("quickbooks_oauth_base_url", "QUICKBOOKS_OAUTH_BASE_URL"),
        ("public_url", "PUBLIC_URL"),
    ],
)
def test_deployed_stages_refuse_plain_http(field: str, variable: str) -> None:
    with pytest.raises(ValidationError, match=f"{variable} must be an https:// URL"):
        deployed(**{field: "http://127.0.0.1:9000/sandbox"})


def test_an_invalid_key_is_reported_by_position_not_value() -> None:
    with pytest.raises(ValidationError) as raised:
        settings(encryption_keys=f"{REAL_KEY},not-a-key-but-a-secret")
    assert "entry 2" in str(raised.value)
    assert "not-a-key-but-a-secret" not in str(raised.value)
    assert REAL_KEY not in str(raised.value)


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


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert settings().trusted_proxies == []
    assert settings(trusted_proxies="10.0.0.0/8, 127.0.0.1").trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    for everyone in ("*", "proxy.internal"):
        with pytest.raises(ValidationError, match="TRUSTED_PROXIES entry"):
            settings(trusted_proxies=everyone)
