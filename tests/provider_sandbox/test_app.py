"""App factory, configuration from the environment, and the sandbox's import rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from provider_sandbox.app import create_app
from provider_sandbox.core.config import PROVIDERS, SandboxConfig, config_from_env

SANDBOX_SRC = Path(__file__).resolve().parents[2] / "src" / "provider_sandbox"


def test_config_defaults_and_overrides() -> None:
    default = config_from_env({})
    # One default client per OAuth provider (the list grows as simulators are added).
    assert {c.client_id for c in default.clients} == {f"sandbox-{p}-client" for p in PROVIDERS}
    assert {"sandbox-xero-client", "sandbox-myob-client", "sandbox-quickbooks-client"} <= {
        c.client_id for c in default.clients
    }
    env = {
        "SANDBOX_SEED_INVOICES": "12",
        "SANDBOX_XERO_CLIENT_ID": "my-id",
        "SANDBOX_XERO_CLIENT_SECRET": "my-s",
        "SANDBOX_XERO_REDIRECT_URIS": "https://a.example/cb, https://b.example/cb",
    }
    config = config_from_env(env)
    xero = next(c for c in config.clients if c.provider == "xero")
    assert (config.invoices_per_tenant, xero.client_id, xero.client_secret) == (12, "my-id", "my-s")
    assert xero.redirect_uris == ("https://a.example/cb", "https://b.example/cb")
    with pytest.raises(ValueError, match="SANDBOX_SEED_CONTACTS"):
        config_from_env({"SANDBOX_SEED_CONTACTS": "-3"})


def test_create_app_seeds_each_provider() -> None:
    app = create_app(
        SandboxConfig(invoices_per_tenant=5, contacts_per_tenant=2, secondary_invoices=1, secondary_contacts=1)
    )
    tenants = app.state.sandbox.tenants
    assert sorted(t.provider for t in tenants.all() if t.provider in ("myob", "quickbooks", "xero")) == [
        "myob",
        "myob",
        "quickbooks",
        "quickbooks",
        "xero",
        "xero",
    ]
    assert len(tenants.default("xero").invoices) == 5


def test_sandbox_imports_nothing_from_the_service_or_the_harness() -> None:
    """A simulator sharing the service's assumptions could not catch its mistakes."""
    offenders = []
    for path in SANDBOX_SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("integration_service", "harness")]
    assert offenders == []
