"""PayPal test helpers: client-credential tokens and the buyer's approval step."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.provider_sandbox.helpers import basic

CLIENT_ID, CLIENT_SECRET = "sandbox-paypal-client", "sandbox-paypal-secret"
API = "/paypal/v1"


def token(http: httpx.Client) -> str:
    response = http.post(
        f"{API}/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def approve(http: httpx.Client, approval_url: str, payer: str | None = None) -> dict[str, str]:
    """Follow the approval link as the buyer's browser would; return the return-URL parameters."""
    # The sandbox-only `sandbox_payer` picks the buyer (DENYPAYER2345 gets a denied sale).
    url = f"{approval_url}&sandbox_payer={payer}" if payer else approval_url
    response = http.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def create_payment(http: httpx.Client, access: str, total: str = "30.11") -> dict[str, Any]:
    body = {
        "intent": "sale",
        "payer": {"payment_method": "paypal"},
        "transactions": [{"amount": {"total": total, "currency": "USD"}, "description": "CRM order"}],
        "redirect_urls": {"return_url": "https://crm.example/return", "cancel_url": "https://crm.example/cancel"},
    }
    response = http.post(f"{API}/payments/payment", json=body, headers=bearer(access))
    assert response.status_code == 201, response.text
    return dict(response.json())


def link(obj: dict[str, Any], rel: str) -> str:
    return str(next(item["href"] for item in obj["links"] if item["rel"] == rel))


def paid(http: httpx.Client, access: str, total: str = "30.11", payer: str | None = None) -> dict[str, Any]:
    created = create_payment(http, access, total)
    params = approve(http, link(created, "approval_url"), payer)
    response = http.post(
        f"{API}/payments/payment/{created['id']}/execute", json={"payer_id": params["PayerID"]}, headers=bearer(access)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def plan(http: httpx.Client, access: str, status: str = "ACTIVE") -> dict[str, Any]:
    body = {
        "product_id": "PROD-SANDBOX01",
        "name": "CRM Pro",
        "status": status,
        "billing_cycles": [
            {
                "frequency": {"interval_unit": "MONTH", "interval_count": 1},
                "tenure_type": "REGULAR",
                "sequence": 1,
                "total_cycles": 0,
                "pricing_scheme": {"fixed_price": {"value": "29.00", "currency_code": "USD"}},
            }
        ],
        "payment_preferences": {"auto_bill_outstanding": True, "payment_failure_threshold": 3},
    }
    response = http.post(f"{API}/billing/plans", json=body, headers=bearer(access))
    assert response.status_code == 201, response.text
    return dict(response.json())


def subscription(http: httpx.Client, access: str, plan_id: str) -> dict[str, Any]:
    body = {
        "plan_id": plan_id,
        "custom_id": "crm-user-7",
        "subscriber": {"name": {"given_name": "Ada", "surname": "L"}, "email_address": "ada@example.com"},
        "application_context": {"return_url": "https://crm.example/sub/return", "cancel_url": "https://crm.example/x"},
    }
    response = http.post(f"{API}/billing/subscriptions", json=body, headers=bearer(access))
    assert response.status_code == 201, response.text
    return dict(response.json())
