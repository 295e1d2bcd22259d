"""Where the PayPal webhook fetches its signing certificate from, and how often.

A forger controls PAYPAL-CERT-URL: the service must fetch only plain file names under PayPal's
certificate prefix (after normalising the URL), and a certificate that cannot be had must cost one
fetch, not one per forged webhook.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from harness.core.processes import ServerProcess
from integration_service.webhooks.paypal import allowed_cert_url
from tests.integration_service.paypal_helpers import Receiver

PREFIX = "https://api.paypal.com/v1/notifications/certs/"


@pytest.mark.parametrize(
    "url",
    [
        f"{PREFIX}..",
        f"{PREFIX}.",
        f"{PREFIX}%2e%2e",
        f"{PREFIX}%2E%2E/v1/oauth2/token",
        f"{PREFIX}./CERT-1.pem",
        f"{PREFIX}a/../../../../v1/oauth2/token",
        f"{PREFIX}sub/CERT-1.pem",
        f"{PREFIX}CERT-1.pem?x=1",
        f"{PREFIX}CERT-1.pem#x",
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1.pem",
        "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1.pem",
        "https://evil.example/v1/notifications/certs/CERT-1.pem",
        "http://api.paypal.com/v1/notifications/certs/CERT-1.pem",
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1.pem",
        "https://api.paypal.com/v1/notifications/certsX/CERT-1.pem",
        PREFIX,
    ],
)
def test_a_certificate_address_outside_the_prefix_is_refused(url: str) -> None:
    assert allowed_cert_url(url, [PREFIX]) is None


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        (f"{PREFIX}CERT-360caa42-fca2a594-a1b2c3d4.pem", f"{PREFIX}CERT-360caa42-fca2a594-a1b2c3d4.pem"),
        ("HTTPS://API.PayPal.com:443/v1/notifications/certs/CERT-1.pem", f"{PREFIX}CERT-1.pem"),
    ],
)
def test_a_plain_file_name_under_the_prefix_is_fetched_in_normal_form(url: str, normalised: str) -> None:
    assert allowed_cert_url(url, [PREFIX]) == normalised


def forged_headers(cert_url: str) -> dict[str, str]:
    return {
        "PAYPAL-TRANSMISSION-ID": str(uuid.uuid4()),
        "PAYPAL-TRANSMISSION-TIME": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PAYPAL-TRANSMISSION-SIG": "AAAA",
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


def sandbox_calls(sandbox_control: httpx.Client, since: int) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = sandbox_control.get(
        "/requests", params={"provider": "paypal", "since_seq": since}
    ).json()
    return calls


def last_seq(sandbox_control: httpx.Client) -> int:
    return max((call["seq"] for call in sandbox_calls(sandbox_control, 0)), default=0)


@pytest.mark.db
def test_forty_forged_webhooks_naming_a_missing_certificate_cost_one_fetch(
    receiver: Receiver, sandbox: ServerProcess, sandbox_control: httpx.Client
) -> None:
    cert_url = f"{sandbox.url}/paypal/certs/CERT-missing-{uuid.uuid4().hex[:8]}.pem"
    since = last_seq(sandbox_control)
    with httpx.Client(base_url=receiver.url, timeout=30) as client:
        answers = [
            client.post("/api/integrations/paypal/webhook", json={"id": "WH-X"}, headers=forged_headers(cert_url))
            for _ in range(40)
        ]
    assert {answer.status_code for answer in answers} == {400}
    assert {answer.json()["error"]["code"] for answer in answers} == {"invalid_signature"}
    fetches = [call for call in sandbox_calls(sandbox_control, since) if call["path"].startswith("/paypal/certs/")]
    assert len(fetches) == 1, f"{len(fetches)} certificate fetches for 40 forged webhooks"


@pytest.mark.db
@pytest.mark.parametrize("name", ["..", "%2e%2e", "./..", "x/../.."])
def test_a_dot_segment_certificate_name_is_refused_without_any_fetch(
    receiver: Receiver, sandbox: ServerProcess, sandbox_control: httpx.Client, name: str
) -> None:
    since = last_seq(sandbox_control)
    answer = httpx.post(
        f"{receiver.url}/api/integrations/paypal/webhook",
        json={"id": "WH-X"},
        headers=forged_headers(f"{sandbox.url}/paypal/certs/{name}"),
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    assert "not a PayPal certificate address" in answer.json()["error"]["message"]
    assert sandbox_calls(sandbox_control, since) == []
