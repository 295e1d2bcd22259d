"""`GET /api/version` and `/api/health` name the build; `GET /api/config-check` reports the settings of a
deployed stage by name and validity, and never a value."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from cryptography.fernet import Fernet

from harness.core.processes import ServerProcess
from integration_service.build import service_version
from integration_service.security.api_tokens import issue_token_at

pytestmark = pytest.mark.db

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_version_and_health_name_the_build(service_factory: Callable[..., ServerProcess]) -> None:
    service = service_factory(BUILD_SHA=SHA)
    version = httpx.get(f"{service.url}/api/version", timeout=10)
    assert version.status_code == 200, version.text
    assert version.json() == {"version": service_version(), "gitSha": SHA, "stage": "local"}
    health = httpx.get(f"{service.url}/api/health", timeout=10)
    assert health.json()["gitSha"] == SHA


def test_config_check_needs_a_token(anonymous: httpx.Client) -> None:
    answer = anonymous.get("/api/config-check")
    assert answer.status_code == 401
    assert "API token" in answer.json()["error"]["message"]


def test_config_check_names_settings_and_never_shows_a_secret(
    service_factory: Callable[..., ServerProcess], database_url: str
) -> None:
    secrets = {
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "XERO_CLIENT_SECRET": f"xero-{uuid.uuid4().hex}",
        "MYOB_CLIENT_SECRET": f"myob-{uuid.uuid4().hex}",
        "STRIPE_WEBHOOK_SECRETS": f"whsec_{uuid.uuid4().hex}",
    }
    service = service_factory(
        STAGE="staging",
        PUBLIC_URL="https://staging.crm.example.com",
        CORS_ALLOWED_ORIGINS="https://app.crm.example.com",
        XERO_CLIENT_ID="xero-app",
        MYOB_CLIENT_ID="myob-app",
        BUILD_SHA=SHA,
        **secrets,
    )
    token = issue_token_at(database_url, f"config-{uuid.uuid4().hex[:8]}")
    answer = httpx.get(f"{service.url}/api/config-check", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    leaked = [name for name, value in secrets.items() if value in answer.text]
    assert leaked == [], f"config-check shows the values of {leaked}"
    assert database_url.split("@")[0] not in answer.text  # not even the database URL's user part
    body = answer.json()
    assert body["stage"] == "staging"
    assert body["corsAllowedOrigins"] == ["https://app.crm.example.com"]
    states = {entry["name"]: (entry["status"], entry["problem"]) for entry in body["settings"]}
    for name in secrets:
        assert states[name] == ("ok", None), name
    assert states["QUICKBOOKS_CLIENT_SECRET"] == ("missing", "QUICKBOOKS_CLIENT_SECRET is not set")
    assert states["PAYPAL_WEBHOOK_ID"] == ("missing", "PAYPAL_WEBHOOK_ID is not set")
