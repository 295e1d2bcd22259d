"""PROVIDER_CA_BUNDLE: every outbound provider client (the shared httpx client, Authlib's OAuth client and
the Stripe SDK) trusts a private CA's HTTPS providers, here the provider sandbox served over TLS with a
certificate from a CA made for the test (trustme); without the setting the same providers are refused."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from harness.core.processes import ServerProcess, free_port
from harness.core.tls import ServerTls, client_verify, issue_private_ca
from harness.stack.local import sandbox_service_env
from harness.stack.oauth import connect_via_oauth
from integration_service.security.api_tokens import issue_token_at
from integration_service.settings import Settings
from tests.fixtures.service import FAST_RETRIES

pytestmark = pytest.mark.db

SANDBOX_STRIPE_KEY = "sk_test_sandbox_default_51Sandbox"


@pytest.fixture(scope="module")
def provider_ca(tmp_path_factory: pytest.TempPathFactory) -> ServerTls:
    return issue_private_ca(tmp_path_factory.mktemp("provider-ca"))


@pytest.fixture(scope="module")
def tls_sandbox(provider_ca: ServerTls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The sandbox over HTTPS through its documented entry point (`python -m provider_sandbox --tls-*`)."""
    port = free_port()
    command = [sys.executable, "-m", "provider_sandbox", "--port", str(port)]
    command += ["--tls-cert", str(provider_ca.cert), "--tls-key", str(provider_ca.key)]
    log = tmp_path_factory.mktemp("tls-sandbox") / "sandbox.log"
    with ServerProcess(
        "provider sandbox (TLS)", command, port, log, ready_path="/_sandbox/health", tls=provider_ca
    ) as sandbox:
        yield sandbox


def api(service: ServerProcess, database_url: str) -> httpx.Client:
    token = issue_token_at(database_url, f"tls-{uuid.uuid4().hex[:10]}")
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def connect_stripe(client: httpx.Client) -> httpx.Response:
    body = {"integrationType": "STRIPE", "integrationName": "tls", "apiKey": SANDBOX_STRIPE_KEY}
    return client.post("/api/integrations", json=body)


def test_every_provider_client_trusts_the_provider_ca_bundle(
    service_factory: Callable[..., ServerProcess], tls_sandbox: ServerProcess, provider_ca: ServerTls, database_url: str
) -> None:
    assert tls_sandbox.url.startswith("https://")
    service = service_factory(PROVIDER_CA_BUNDLE=str(provider_ca.ca_bundle), **sandbox_service_env(tls_sandbox.url))
    with api(service, database_url) as client, httpx.Client(verify=client_verify(provider_ca.ca_bundle)) as browser:
        stripe = connect_stripe(client)  # the Stripe SDK checks the key against the sandbox
        assert stripe.status_code == 201, stripe.text
        synced = client.post(
            "/api/integrations/sync", json={"integrationId": stripe.json()["integration"]["id"], "dataType": "payments"}
        )
        assert synced.status_code == 200, synced.text
        xero = connect_via_oauth(client, browser, "xero")  # Authlib's token exchange
        invoices = client.post("/api/integrations/sync", json={"integrationId": xero["id"], "dataType": "invoices"})
        assert invoices.status_code == 200, invoices.text  # the shared httpx client reads the Xero API
        assert invoices.json()["result"]["syncedRecords"] > 0


def test_without_the_bundle_a_private_ca_is_not_trusted(
    service_factory: Callable[..., ServerProcess], tls_sandbox: ServerProcess, database_url: str
) -> None:
    service = service_factory(**sandbox_service_env(tls_sandbox.url), **FAST_RETRIES)
    with api(service, database_url) as client:
        created = connect_stripe(client)  # Stripe has no connection test: nothing is called yet
        assert created.status_code == 201, created.text
        refused = client.post(
            "/api/integrations/sync",
            json={"integrationId": created.json()["integration"]["id"], "dataType": "payments"},
        )
    # The same sandbox serves the test above: only the trust differs (the TLS handshake fails).
    assert refused.status_code == 502, refused.text
    assert "ConnectError" in refused.json()["result"]["message"], refused.text


def test_an_unusable_bundle_stops_the_service_from_starting(tmp_path: Path) -> None:
    not_pem = tmp_path / "not-a-bundle.pem"
    not_pem.write_text("this is not a certificate\n")
    for bundle in (tmp_path / "missing.pem", not_pem):
        with pytest.raises(ValidationError, match="PROVIDER_CA_BUNDLE"):
            Settings(provider_ca_bundle=str(bundle))
