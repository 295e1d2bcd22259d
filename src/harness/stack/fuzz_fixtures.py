"""What the fuzzer needs to get past 404: an integration of each provider and the provider-side objects
the operations act on, made before the run through the service's own API (against the local stack's
provider sandbox), and their identifiers as Schemathesis parameter overrides per operation.

Without them, every generated identifier is unknown and the run only fuzzes the 404 path (issue 18).
The overrides pin only identifiers; every other part of each request is still generated, valid and
invalid.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.stack.oauth import connect_via_oauth

SANDBOX_STRIPE_KEY = "sk_test_sandbox_default_51Sandbox"  # the sandbox's default account (its README)
SANDBOX_BILLIONMAIL_KEY = "sandbox-billionmail-api-key"  # the sandbox's default instance
PAYPAL_APP = ("sandbox-paypal-client", "sandbox-paypal-secret")  # the sandbox's default REST app
MAUTIC_SEGMENT, MAUTIC_CONTACTS = 4, (5, 7)  # seeded in the sandbox's default Mautic instance
URLS = {"returnUrl": "https://crm.example/return", "cancelUrl": "https://crm.example/cancel"}
BASE = "/api/integrations"


@dataclass
class FuzzFixtures:
    """Operation ("METHOD /path/template") -> the parameters Schemathesis is to use for it."""

    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def pin(self, operation: str, **values: Any) -> None:
        self.parameters.setdefault(operation, {}).update(values)

    def body_identifiers(self) -> dict[str, dict[str, str]]:
        """Operation -> its pinned body fields whose value is an identifier (a UUID): contract/fuzz_hooks.py
        puts them into the coverage phase's bodies too, which Schemathesis (4.32) builds without the pins."""
        pinned: dict[str, dict[str, str]] = {}
        for operation, values in self.parameters.items():
            for key, value in values.items():
                if key.startswith("body.") and is_uuid(value):
                    pinned.setdefault(operation, {})[key.removeprefix("body.")] = value
        return pinned

    def as_toml(self) -> str:
        """`[[operations]]` tables to append to the Schemathesis configuration (JSON strings are TOML's)."""
        blocks = []
        for operation, values in sorted(self.parameters.items()):
            pairs = ", ".join(f"{json.dumps(key)} = {json.dumps(value)}" for key, value in values.items())
            blocks.append(f"[[operations]]\ninclude-name = {json.dumps(operation)}\nparameters = {{ {pairs} }}\n")
        return "\n".join(blocks)


def create_fuzz_fixtures(api: httpx.Client, sandbox_url: str, verify: str | bool = True) -> FuzzFixtures:
    """`api` carries the fuzzing user's token: what it creates is that user's, as the fuzzer's requests are.
    `verify`: the CA the sandbox's and the service's certificates are checked against (a stage's own)."""
    fixtures = FuzzFixtures()
    stripe = _integration(api, "STRIPE", apiKey=SANDBOX_STRIPE_KEY)
    _stripe_objects(api, fixtures, stripe, sandbox_url, verify)
    paypal = _integration(api, "PAYPAL", apiKey=PAYPAL_APP[0], apiSecret=PAYPAL_APP[1])
    _paypal_objects(api, fixtures, paypal)
    _paypal_orders(api, fixtures, paypal, verify)
    billionmail = _integration(
        api, "BILLIONMAIL", apiKey=SANDBOX_BILLIONMAIL_KEY, customData={"baseUrl": f"{sandbox_url}/billionmail"}
    )
    for method in ("GET", "POST"):
        fixtures.pin(f"{method} {BASE}/billionmail/{{integration_id}}/campaigns", integration_id=billionmail)
    with httpx.Client(timeout=30, verify=verify) as browser:
        mautic = str(connect_via_oauth(api, browser, "mautic")["id"])
    _mautic_objects(api, fixtures, mautic)
    # Operations on any integration: one whose provider answers (Stripe), and a sync's log.
    for operation in ("GET {b}/{{integration_id}}", "PATCH {b}/{{integration_id}}", "POST {b}/{{integration_id}}/test"):
        fixtures.pin(operation.format(b=BASE), integration_id=stripe)
    fixtures.pin(f"POST {BASE}/sync", **{"body.integrationId": stripe})
    fixtures.pin(f"GET {BASE}/logs/{{log_id}}", log_id=_sync_log(api, stripe))
    return fixtures


def _integration(api: httpx.Client, kind: str, **credentials: Any) -> str:
    body = {"integrationType": kind, "integrationName": f"fuzz {kind.lower()} {uuid.uuid4().hex[:6]}", **credentials}
    return str(_created(api.post(BASE, json=body), "integration")["id"])


def _stripe_objects(
    api: httpx.Client, fixtures: FuzzFixtures, integration: str, sandbox_url: str, verify: str | bool
) -> None:
    customer, price = _stripe_customer_and_price(sandbox_url, verify)
    intent = {"integrationId": integration, "amount": 5000, "currency": "usd", "customer": customer}
    paid = _created(api.post(f"{BASE}/stripe/payment-intents", json={**intent, "paymentMethod": "pm_card_visa"}))
    subscription = _created(
        api.post(
            f"{BASE}/stripe/subscriptions", json={"integrationId": integration, "customer": customer, "price": price}
        )
    )["subscription"]["stripeSubscriptionId"]
    on = {"body.integrationId": integration}
    fixtures.pin(f"POST {BASE}/stripe/payment-intents", **on, **{"body.customer": customer})
    fixtures.pin(f"POST {BASE}/stripe/subscriptions", **on, **{"body.customer": customer, "body.price": price})
    fixtures.pin(f"POST {BASE}/stripe/refunds", **on, **{"body.paymentIntent": paid["paymentIntentId"]})
    # Cancelling an already cancelled subscription is still Stripe's answer about that subscription.
    fixtures.pin(f"DELETE {BASE}/stripe/subscriptions/{{subscription_id}}", integrationId=integration)
    fixtures.pin(f"DELETE {BASE}/stripe/subscriptions/{{subscription_id}}", subscription_id=subscription)


def _stripe_customer_and_price(sandbox_url: str, verify: str | bool) -> tuple[str, str]:
    """Made at Stripe by the merchant (the service has no route for them), as the project's tests do."""
    headers = {"Authorization": f"Bearer {SANDBOX_STRIPE_KEY}"}
    stripe_api = f"{sandbox_url}/stripe/v1"
    with httpx.Client(base_url=stripe_api, headers=headers, timeout=30, verify=verify) as merchant:
        customer = merchant.post("/customers", data={"email": "fuzz@example.com"}).raise_for_status().json()["id"]
        price_form = {
            "currency": "usd",
            "unit_amount": "1500",
            "recurring[interval]": "month",
            "product_data[name]": "fuzz seat",
        }
        price = merchant.post("/prices", data=price_form).raise_for_status().json()["id"]
    return str(customer), str(price)


def _paypal_objects(api: httpx.Client, fixtures: FuzzFixtures, integration: str) -> None:
    on, body = {"body.integrationId": integration}, {"integrationId": integration}
    payment = _created(api.post(f"{BASE}/paypal/payments", json={**body, "amount": "12.50", "currency": "USD", **URLS}))
    plan_body = {**body, "productId": "PROD-FUZZ", "name": "fuzz plan", "amount": "9.00", "currency": "USD"}
    # An inactive plan to activate, an active one to subscribe to.
    plan_id = _created(api.post(f"{BASE}/paypal/plans", json={**plan_body, "activate": False}))["plan"]["id"]
    active = _created(api.post(f"{BASE}/paypal/plans", json=plan_body))["plan"]["id"]
    subscription = _created(api.post(f"{BASE}/paypal/subscriptions", json={**body, "planId": active, **URLS}))[
        "subscription"
    ]["paypalSubscriptionId"]
    # The amount too, whole so that it suits every currency the schema offers (JPY has no cents): more of
    # the generated bodies get past validation to PayPal; the rest of the body is still generated.
    for operation in ("POST {b}/paypal/payments", "POST {b}/paypal/plans"):
        fixtures.pin(operation.format(b=BASE), **on, **{"body.amount": "12"})
    fixtures.pin(
        f"POST {BASE}/paypal/payments/{{payment_id}}/execute", payment_id=payment["payment"]["paypalPaymentId"]
    )
    fixtures.pin(f"POST {BASE}/paypal/payments/{{payment_id}}/execute", **on)
    fixtures.pin(f"POST {BASE}/paypal/plans/{{plan_id}}/activate", plan_id=plan_id, **on)
    fixtures.pin(f"POST {BASE}/paypal/subscriptions", **on, **{"body.planId": active})
    fixtures.pin(f"POST {BASE}/paypal/subscriptions/{{subscription_id}}/cancel", subscription_id=subscription, **on)


def _paypal_orders(api: httpx.Client, fixtures: FuzzFixtures, integration: str, verify: str | bool) -> None:
    """Orders the buyer approved (at the sandbox's approval link): one to read, one to capture (capturing
    it again answers it as captured). New orders: a whole amount, which suits every currency the schema offers."""
    approved = [_approved_order(api, integration, verify) for _ in range(2)]
    fixtures.pin(f"POST {BASE}/paypal/orders", **{"body.integrationId": integration, "body.amount": "12"})
    fixtures.pin(f"GET {BASE}/paypal/orders/{{order_id}}", order_id=approved[0], integrationId=integration)
    capture = f"POST {BASE}/paypal/orders/{{order_id}}/capture"
    fixtures.pin(capture, order_id=approved[1], **{"body.integrationId": integration})


def _approved_order(api: httpx.Client, integration: str, verify: str | bool) -> str:
    body = {"integrationId": integration, "amount": "12.50", "currency": "USD", **URLS}
    created = _created(api.post(f"{BASE}/paypal/orders", json=body))
    with httpx.Client(timeout=30, verify=verify) as browser:  # the buyer approves; PayPal redirects back
        approval = browser.get(created["approvalUrl"], follow_redirects=False)
    if approval.status_code != 302:
        raise FuzzSetupError(f"approving a PayPal order answered {approval.status_code}: {approval.text[:300]}")
    return str(created["order"]["paypalOrderId"])


def _mautic_objects(api: httpx.Client, fixtures: FuzzFixtures, integration: str) -> None:
    campaign = _created(api.post(f"{BASE}/mautic/{integration}/campaigns", json={"name": "fuzz campaign"}))
    campaign_id = int(campaign["campaign"]["mauticCampaignId"])
    for method in ("GET", "POST"):
        fixtures.pin(f"{method} {BASE}/mautic/{{integration_id}}/campaigns", integration_id=integration)
    publish = f"POST {BASE}/mautic/{{integration_id}}/campaigns/{{campaign_id}}/publish"
    fixtures.pin(publish, integration_id=integration, campaign_id=campaign_id)
    contacts = f"POST {BASE}/mautic/{{integration_id}}/segments/{{segment_id}}/contacts"
    fixtures.pin(contacts, integration_id=integration, segment_id=MAUTIC_SEGMENT)


def _sync_log(api: httpx.Client, integration: str) -> str:
    """A sync's log: ended (200) or still running (202), it is listed."""
    _created(api.post(f"{BASE}/sync", json={"integrationId": integration, "dataType": "payments"}))
    logs = _created(api.get(f"{BASE}/logs", params={"integrationId": integration}), "logs")
    return str(logs[0]["id"])


def _created(response: httpx.Response, key: str | None = None) -> Any:
    """The answer's body (or its `key`); a setup step the service refused stops the run, saying which."""
    if response.status_code not in (200, 201, 202):
        request = response.request
        raise FuzzSetupError(
            f"{request.method} {request.url.path} answered {response.status_code}: {response.text[:300]}"
        )
    body = response.json()
    return body[key] if key else body


class FuzzSetupError(RuntimeError):
    """Making what the fuzzer needs failed: the run would fuzz 404s, so it does not start."""


def is_uuid(value: object) -> bool:
    """Whether `value` is a string that reads as a UUID (contract/fuzz_hooks.py asks it of generated values)."""
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
