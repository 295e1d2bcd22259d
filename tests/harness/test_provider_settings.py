"""The local stack's providers: the sandbox, unless the developer's environment or `.env` points one elsewhere
(as a whole), with what `invoke up` prints and the release report says about it, and no secret shown."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from harness.core.processes import ServerProcess
from harness.core.stages import StageError
from harness.qa import run_qa
from harness.stack.dev import show_urls, worker_env
from harness.stack.local import StackInfo, provider_service_env, register_sandbox_webhooks, sandbox_service_env
from harness.stack.provider_settings import (
    PROVIDER_SETTINGS,
    PROVIDERS,
    ProviderSettingsError,
    external_providers_note,
    printable_endpoint,
    user_environment,
)
from integration_service.settings import Settings

SANDBOX = "http://127.0.0.1:9"
SECRET = "whsec_do-not-print-me"
XERO_SECRET = "xero-secret-do-not-print-me"
# Stripe in test mode: the API's real host and the signing secret of the developer's own webhook endpoint.
STRIPE_TEST_MODE = {"STRIPE_API_BASE_URL": "https://api.stripe.com", "STRIPE_WEBHOOK_SECRETS": SECRET}
XERO_DEMO_COMPANY = {"XERO_CLIENT_ID": "xero-app", "XERO_CLIENT_SECRET": XERO_SECRET}
# Service settings of a provider that say how it behaves, not where it is nor who we are there: setting one
# keeps the provider on the sandbox.
TUNING = {"STRIPE_WEBHOOK_TOLERANCE_S", "PAYPAL_WEBHOOK_TOLERANCE_S"}
PREFIXES = ("XERO_", "MYOB_", "QUICKBOOKS_", "STRIPE_", "PAYPAL_", "MAUTIC_")


@pytest.fixture
def no_provider_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets speaks: a developer's exported provider settings would win over the test's `.env`."""
    for name in PROVIDER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def sandbox_values(provider: str) -> dict[str, str]:
    names = next(p for p in PROVIDERS if p.name == provider).settings
    return {name: value for name, value in sandbox_service_env(SANDBOX).items() if name in names}


def test_with_nothing_set_every_provider_is_the_sandbox() -> None:
    chosen = provider_service_env(SANDBOX, {})
    assert chosen.env == sandbox_service_env(SANDBOX)
    assert chosen.external == {}


def test_every_provider_setting_of_the_service_is_known_and_every_sandbox_setting_belongs_to_one_provider() -> None:
    service = {name.upper() for name in Settings.model_fields if name.upper().startswith(PREFIXES)}
    assert service - TUNING == PROVIDER_SETTINGS, "a new provider setting must join its provider in PROVIDERS"
    owners = {name: [p.name for p in PROVIDERS if name in p.settings] for name in sandbox_service_env(SANDBOX)}
    assert all(len(found) == 1 for found in owners.values()), owners


def test_the_developers_provider_replaces_the_sandbox_for_that_provider_only() -> None:
    chosen = provider_service_env(SANDBOX, STRIPE_TEST_MODE)
    assert chosen.env["STRIPE_API_BASE_URL"] == "https://api.stripe.com"
    assert chosen.env["STRIPE_WEBHOOK_SECRETS"] == SECRET
    assert chosen.external == {"Stripe": "https://api.stripe.com"}
    for provider in ("Xero", "MYOB", "QuickBooks", "PayPal", "Mautic"):
        assert sandbox_values(provider).items() <= chosen.env.items(), f"{provider} left the sandbox"


def test_a_provider_is_switched_as_a_whole_its_unset_settings_taking_the_services_defaults() -> None:
    chosen = provider_service_env(SANDBOX, XERO_DEMO_COMPANY)
    xero = {name: value for name, value in chosen.env.items() if name.startswith("XERO_")}
    # No sandbox URL is left for Xero: its base URLs are the service's defaults, Xero's real hosts.
    assert xero == XERO_DEMO_COMPANY
    assert chosen.external == {"Xero": "https://api.xero.com"}


def test_a_developers_base_url_is_used_and_shown() -> None:
    elsewhere = {
        "MAUTIC_BASE_URL": "https://mautic.test.example",
        "MAUTIC_CLIENT_ID": "id",
        "MAUTIC_CLIENT_SECRET": "s",
    }
    chosen = provider_service_env(SANDBOX, elsewhere)
    assert chosen.env["MAUTIC_BASE_URL"] == "https://mautic.test.example"
    assert chosen.external == {"Mautic": "https://mautic.test.example"}


def test_paypal_in_live_mode_is_shown_at_its_live_host() -> None:
    chosen = provider_service_env(SANDBOX, {"PAYPAL_MODE": "live", "PAYPAL_WEBHOOK_ID": "WH-1"})
    assert chosen.external == {"PayPal": "https://api-m.paypal.com"}
    assert "PAYPAL_CERT_URL_PREFIXES" not in chosen.env  # PayPal's own certificate hosts, not the sandbox's


def test_a_switched_provider_missing_a_required_setting_is_refused_naming_each_one() -> None:
    half_set = {"STRIPE_API_BASE_URL": "https://api.stripe.com", "XERO_CLIENT_SECRET": XERO_SECRET}
    with pytest.raises(ProviderSettingsError) as refused:
        provider_service_env(SANDBOX, half_set)
    message = str(refused.value)
    for named in ("Stripe", "STRIPE_WEBHOOK_SECRETS", "Xero", "XERO_CLIENT_ID"):
        assert named in message
    assert XERO_SECRET not in message
    assert "MYOB" not in message
    assert isinstance(refused.value, StageError)  # `invoke up` shows it as a message, not a traceback


def test_an_empty_value_leaves_the_provider_on_the_sandbox() -> None:
    assert provider_service_env(SANDBOX, {"STRIPE_API_BASE_URL": ""}).external == {}


@pytest.mark.usefixtures("no_provider_settings")
def test_the_projects_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("stripe_api_base_url=https://api.stripe.com\nSTRIPE_WEBHOOK_SECRETS=x\nOTHER=1\n")
    assert user_environment(tmp_path) == {
        "STRIPE_API_BASE_URL": "https://api.stripe.com",
        "STRIPE_WEBHOOK_SECRETS": "x",
    }


@pytest.mark.usefixtures("no_provider_settings")
def test_the_environment_wins_over_the_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("STRIPE_API_BASE_URL=https://from-the-file.example\n")
    monkeypatch.setenv("STRIPE_API_BASE_URL", "https://from-the-environment.example")
    assert user_environment(tmp_path)["STRIPE_API_BASE_URL"] == "https://from-the-environment.example"


@pytest.mark.usefixtures("no_provider_settings")
def test_without_an_env_file_only_the_environment_speaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYPAL_WEBHOOK_ID", "WH-1")
    assert user_environment(tmp_path) == {"PAYPAL_WEBHOOK_ID": "WH-1"}


def test_what_invoke_up_prints_names_each_provider_and_no_secret() -> None:
    chosen = provider_service_env(SANDBOX, {**STRIPE_TEST_MODE, **XERO_DEMO_COMPANY})
    output = io.StringIO()
    info = StackInfo(service_url="http://127.0.0.1:8000", database_url="postgresql://x@db/y", sandbox_url=SANDBOX)
    show_urls(info, chosen.external, Console(file=output, width=300))
    printed = output.getvalue()
    assert "Stripe      https://api.stripe.com" in printed
    assert "Xero        https://api.xero.com" in printed
    assert "PayPal      sandbox" in printed
    assert "Stripe webhooks" in printed
    assert "PayPal webhooks" not in printed
    for secret in (SECRET, XERO_SECRET):
        assert secret not in printed
        assert secret not in repr(chosen)


def test_a_shown_endpoint_drops_credentials_and_query() -> None:
    assert (
        printable_endpoint("https://user:pass@api.example.com:8443/v1?key=abc#x") == "https://api.example.com:8443/v1"
    )


def test_the_report_note_names_the_external_providers_only() -> None:
    assert external_providers_note({}) == []
    [note] = external_providers_note(STRIPE_TEST_MODE)
    assert "Stripe at https://api.stripe.com" in note
    assert SECRET not in note


@pytest.mark.usefixtures("no_provider_settings")
def test_a_local_gate_run_reports_its_external_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = Console(file=io.StringIO())
    # A project of its own: no developer's `.env` speaks.
    plain = run_qa("local", gates=[], reports_dir=tmp_path / "plain", project_root=tmp_path, console=quiet)
    for name, value in STRIPE_TEST_MODE.items():
        monkeypatch.setenv(name, value)
    external = run_qa("local", gates=[], reports_dir=tmp_path / "external", project_root=tmp_path, console=quiet)
    assert not any("outside the sandbox" in note for note in plain.report.notes)
    document = json.loads(external.json_path.read_text())
    assert any("Stripe at https://api.stripe.com" in note for note in document["notes"])
    assert SECRET not in external.json_path.read_text() + external.html_path.read_text()


def test_invoke_worker_reaches_the_providers_invoke_up_chose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(
        json.dumps({"service_url": "http://s", "database_url": "postgresql://d", "sandbox_url": SANDBOX})
    )
    for name, value in STRIPE_TEST_MODE.items():
        monkeypatch.setenv(name, value)
    env = worker_env(stack_file)
    assert env["STRIPE_API_BASE_URL"] == "https://api.stripe.com"
    assert env["DATABASE_URL"] == "postgresql://d"


def test_webhooks_are_registered_only_for_the_providers_the_sandbox_plays(sandbox: ServerProcess) -> None:
    service_url = f"http://127.0.0.1:9/{uuid.uuid4().hex}"  # nobody: on demand, the sandbox delivers nothing
    settings = register_sandbox_webhooks(sandbox.url, service_url, on_demand=True, providers=["PayPal"])
    assert set(settings) == {"PAYPAL_WEBHOOK_ID"}
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=30) as control:
        for provider, expected in (("stripe", 0), ("paypal", 1)):
            endpoints = control.get(f"/{provider}/webhooks").json()
            assert len([e for e in endpoints if e["url"].startswith(service_url)]) == expected, provider
