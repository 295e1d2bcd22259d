"""The service's account of its own settings: names and validity by the rules of its stage, no values."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from integration_service.settings import Settings
from integration_service.settings_report import settings_report

SHA = "0123456789abcdef0123456789abcdef01234567"


def report(**values: Any) -> dict[str, tuple[str, str | None]]:
    settings = Settings(_env_file=None, **{"build_sha": SHA, **values})
    return {check.name: (check.status, check.problem) for check in settings_report(settings)}


def complete(stage: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "stage": stage,
        "encryption_keys": Fernet.generate_key().decode(),
        "public_url": "https://crm.example.com",
        "cors_allowed_origins": "https://app.crm.example.com",
        "stripe_webhook_secrets": "whsec_one",
        "paypal_webhook_id": "WH-1",
        "paypal_mode": "live" if stage == "production" else "sandbox",
    }
    for provider in ("xero", "myob", "quickbooks"):
        values[f"{provider}_client_id"] = f"{provider}-app"
        values[f"{provider}_client_secret"] = f"{provider}-secret"
    return {**values, **overrides}


def test_a_complete_deployment_reports_every_setting_ok() -> None:
    for stage in ("staging", "production"):
        checks = report(**complete(stage))
        assert {name for name, (status, _) in checks.items() if status != "ok"} == set(), checks
        for name in ("ENCRYPTION_KEYS", "XERO_CLIENT_SECRET", "STRIPE_WEBHOOK_SECRETS", "PUBLIC_URL", "BUILD_SHA"):
            assert checks[name] == ("ok", None)
        assert "XERO_API_BASE_URL" in checks
        assert "MAUTIC_CLIENT_ID" not in checks  # Mautic not offered: nothing to configure


def test_unset_credentials_and_webhook_secrets_are_missing_by_name() -> None:
    values = complete("staging", xero_client_secret="", stripe_webhook_secrets="", paypal_webhook_id="")
    checks = report(**values)
    assert checks["XERO_CLIENT_SECRET"] == ("missing", "XERO_CLIENT_SECRET is not set")
    assert checks["STRIPE_WEBHOOK_SECRETS"] == ("missing", "STRIPE_WEBHOOK_SECRETS is not set")
    assert checks["PAYPAL_WEBHOOK_ID"] == ("missing", "PAYPAL_WEBHOOK_ID is not set")
    assert checks["XERO_CLIENT_ID"] == ("ok", None)


def test_a_configured_mautic_needs_its_app() -> None:
    checks = report(**complete("staging", mautic_base_url="https://mautic.example.com"))
    assert checks["MAUTIC_CLIENT_ID"] == ("missing", "MAUTIC_CLIENT_ID is not set")
    assert checks["MAUTIC_BASE_URL"] == ("ok", None)


def test_production_on_paypal_sandbox_is_invalid() -> None:
    checks = report(**complete("production", paypal_mode="sandbox"))
    assert checks["PAYPAL_MODE"] == ("invalid", "PAYPAL_MODE must be live in production")
    assert report(**complete("staging"))["PAYPAL_MODE"] == ("ok", None)


def test_the_local_stage_judges_development_defaults_valid_but_reports_what_is_unset() -> None:
    checks = report()  # the local defaults: development key, http URLs, no credentials
    assert checks["ENCRYPTION_KEYS"] == ("ok", None)
    assert checks["PUBLIC_URL"] == ("ok", None)
    assert checks["XERO_CLIENT_SECRET"][0] == "missing"


def test_an_unknown_build_is_reported() -> None:
    checks = report(**complete("staging", build_sha="unknown"))
    status, problem = checks["BUILD_SHA"]
    assert status == "missing"
    assert problem is not None
    assert "not set" in problem
