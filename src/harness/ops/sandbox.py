"""The local stage's provider sandbox, as the ops tasks use it: the PayPal signer of the local stage.

PayPal signs its webhooks with its own key; nobody else can. In the local stage the sandbox plays
PayPal: its control API (`/_sandbox/paypal/...`) registers the service's webhook (PayPal assigns the
webhook id, part of every signature) and delivers events it signed. The sandbox's address comes from
`.stack/stack.json` (written by `invoke up`); a sandbox that does not answer is no signer.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from harness.ops.common import OpsError
from provider_sandbox.core.config import default_clients

PAYPAL_RECEIVER = "/api/integrations/paypal/webhook"
CONTROL = "/_sandbox/paypal"


def sandbox_answers(sandbox_url: str | None, verify: ssl.SSLContext | bool = True) -> bool:
    if not sandbox_url:
        return False
    try:
        return httpx.get(f"{sandbox_url}/_sandbox/health", timeout=3, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


def paypal_endpoint_id(sandbox: httpx.Client, receiver_url: str) -> str | None:
    """The webhook id of the sandbox's PayPal webhook that delivers to `receiver_url`, if one is registered."""
    listed = sandbox.get(f"{CONTROL}/webhooks")
    listed.raise_for_status()
    for endpoint in listed.json():
        if endpoint.get("url") == receiver_url:
            return str(endpoint["id"])
    return None


def ensure_paypal_webhook(sandbox_url: str, service_url: str) -> str:
    """The PayPal webhook id for the service at `service_url` (registered once, reused afterwards)."""
    receiver = f"{service_url}{PAYPAL_RECEIVER}"
    with httpx.Client(base_url=sandbox_url, timeout=30) as sandbox:
        known = paypal_endpoint_id(sandbox, receiver)
        if known is not None:
            return known
        made = sandbox.post(f"{CONTROL}/webhooks", json={"url": receiver})
        if made.status_code != 201:
            raise OpsError(f"the sandbox refused to register a PayPal webhook for {receiver}: HTTP {made.status_code}")
        return str(made.json()["webhook_id"])


@dataclass(frozen=True)
class Delivery:
    status_code: int | None
    body: str

    def describe(self) -> str:
        return f"HTTP {self.status_code} {self.body[:120]}" if self.status_code else f"no answer ({self.body[:120]})"


def sandbox_app(provider: str) -> tuple[str, str]:
    """A sandbox's default OAuth or REST app of `provider` (its defaults, or SANDBOX_<PROVIDER>_CLIENT_* as
    a sandbox started from this environment reads them): client id and secret."""
    client = next(client for client in default_clients(os.environ) if client.provider == provider)
    return client.client_id, client.client_secret


def new_paypal_event(sandbox: httpx.Client) -> str:
    """A fresh PAYMENT.SALE.COMPLETED event in the sandbox: a 1.00 USD payment made, approved and executed
    for a sale no integration has. The sandbox sends it to its registered webhooks; its id is returned."""
    api = "/paypal/v1"
    token = sandbox.post(f"{api}/oauth2/token", data={"grant_type": "client_credentials"}, auth=sandbox_app("paypal"))
    token.raise_for_status()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = sandbox.post(
        f"{api}/payments/payment",
        headers=bearer,
        json={
            "intent": "sale",
            "payer": {"payment_method": "paypal"},
            "transactions": [{"amount": {"total": "1.00", "currency": "USD"}, "description": "invoke smoke"}],
            "redirect_urls": {
                "return_url": "https://smoke.invalid/return",
                "cancel_url": "https://smoke.invalid/cancel",
            },
        },
    )
    created.raise_for_status()
    payment: dict[str, Any] = created.json()
    approval = next(link["href"] for link in payment["links"] if link["rel"] == "approval_url")
    approved = sandbox.get(approval, follow_redirects=False)
    if approved.status_code != 302:
        raise OpsError(f"the sandbox did not approve the smoke payment: HTTP {approved.status_code}")
    payer = parse_qs(urlsplit(approved.headers["location"]).query)["PayerID"][0]
    executed = sandbox.post(f"{api}/payments/payment/{payment['id']}/execute", headers=bearer, json={"payer_id": payer})
    executed.raise_for_status()
    sale_id = executed.json()["transactions"][0]["related_resources"][0]["sale"]["id"]
    events = sandbox.get(f"{CONTROL}/events", params={"type": "PAYMENT.SALE.COMPLETED"})
    events.raise_for_status()
    for event in reversed(events.json()):
        if event["resource"]["id"] == sale_id:
            return str(event["id"])
    raise OpsError(f"the sandbox made no PAYMENT.SALE.COMPLETED event for sale {sale_id}")


def deliver(sandbox: httpx.Client, endpoint_id: str, event_id: str, variant: str = "valid") -> Delivery:
    """Deliver one event to one webhook now, signed (`valid`) or forged (e.g. `wrong_secret`); no retries."""
    answer = sandbox.post(
        f"{CONTROL}/webhooks/deliver",
        json={"endpoint_id": endpoint_id, "event_ids": [event_id], "variant": variant, "retry": False},
    )
    answer.raise_for_status()
    attempt = answer.json()["attempts"][-1]
    return Delivery(attempt["status_code"], attempt.get("response_body") or attempt.get("error") or "")


def drain(sandbox: httpx.Client) -> None:
    """Wait until the sandbox's background deliveries (and their retries) are done."""
    sandbox.post(f"{CONTROL}/webhooks/drain").raise_for_status()
