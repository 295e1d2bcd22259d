"""PayPal test helpers: client-credential tokens, the buyer's approval step, and the check of an answer
against PayPal's specs (schema validity, undefined keys, the debug id)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core.templating.paths.exceptions import PathError

from harness.core.provider_specs import SOURCES, SpecSource, check_response
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


def plan(http: httpx.Client, access: str, status: str = "ACTIVE", product_id: str = "PROD-SANDBOX01") -> dict[str, Any]:
    body = {
        "product_id": product_id,
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


ORDERS = "/paypal/v2/checkout/orders"
FULL = {"Prefer": "return=representation"}


def order_body(intent: str = "CAPTURE", value: str = "25.00", **unit: Any) -> dict[str, Any]:
    return {
        "intent": intent,
        "purchase_units": [{"amount": {"currency_code": "USD", "value": value}, **unit}],
        "application_context": {"return_url": "https://crm.example/order/return"},
    }


def create_order(http: httpx.Client, access: str, intent: str = "CAPTURE", value: str = "25.00") -> dict[str, Any]:
    response = http.post(ORDERS, json=order_body(intent, value), headers={**bearer(access), **FULL})
    assert response.status_code == 201, response.text
    return dict(response.json())


def approved_order(
    http: httpx.Client, access: str, intent: str = "CAPTURE", payer: str | None = None
) -> dict[str, Any]:
    """An order its buyer approved (through its approve link); returns the order as shown afterwards."""
    created = create_order(http, access, intent)
    params = approve(http, link(created, "approve"), payer)
    assert params["token"] == created["id"]
    return dict(http.get(f"{ORDERS}/{created['id']}", headers=bearer(access)).json())


# --- fidelity: each answer against the operation's schema in PayPal's own specs ------------------

SANDBOX_ROOT = "/paypal"
DEBUG_HEADER = "paypal-debug-id"


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _flattened(document: dict[str, Any], schemas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The schemas with every allOf/anyOf/oneOf member they are made of (a key any of them defines is defined)."""
    flat = []
    for schema in (_resolved(document, item) for item in schemas):
        flat.append(schema)
        for combiner in ("allOf", "anyOf", "oneOf"):
            flat.extend(_flattened(document, schema.get(combiner, [])))
    return flat


def undefined_keys(document: dict[str, Any], schemas: list[dict[str, Any]], value: Any, at: str = "$") -> list[str]:
    """Every key of `value` that no `properties` of its schema defines, as a path (e.g. `$.approved_payer`).

    openapi-core accepts such keys (PayPal's schemas allow additional properties); a sandbox-internal
    field leaking into an answer is exactly such a key. A schema without any `properties` is free-form.
    """
    flat = _flattened(document, schemas)
    if isinstance(value, list):
        items = [schema["items"] for schema in flat if "items" in schema]
        return [
            key for index, item in enumerate(value) for key in undefined_keys(document, items, item, f"{at}[{index}]")
        ]
    if not isinstance(value, dict) or not any("properties" in schema for schema in flat):
        return []
    defined: dict[str, list[dict[str, Any]]] = {}
    for schema in flat:
        for name, sub in schema.get("properties", {}).items():
            defined.setdefault(name, []).append(sub)
    problems = [f"{at}.{key}" for key in value if key not in defined]
    for key, item in value.items():
        if key in defined:
            problems += undefined_keys(document, defined[key], item, f"{at}.{key}")
    return problems


def operation_of(method: str, real_path: str) -> tuple[SpecSource, str] | None:
    """The spec and path template documenting `method real_path` (None: no spec here does)."""
    for source in SOURCES:
        if source.provider != "paypal":
            continue
        try:
            found = source.finder.find(method.lower(), source.host + real_path)
        except PathError:
            continue
        if method.lower() in source.document["paths"][found.path.parts[-1]]:
            return source, found.path.parts[-1]
    return None


def response_schema(source: SpecSource, template: str, method: str, status: int) -> dict[str, Any] | None:
    responses = source.document["paths"][template][method.lower()]["responses"]
    response = _resolved(source.document, responses.get(str(status), responses.get("default", {})))
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return schema if isinstance(schema, dict) else None


def exchange_of(response: httpx.Response) -> dict[str, Any]:
    """The response as the fidelity gate's checker takes it, its path as the real host spells it."""
    return {
        "method": response.request.method,
        "path": response.request.url.path.removeprefix(SANDBOX_ROOT),
        "query": dict(response.request.url.params),
        "status": response.status_code,
        "headers": {key.lower(): value for key, value in response.headers.items()},
        "body": response.text,
    }


def faithfulness_problems(response: httpx.Response) -> list[str]:
    """What in one sandbox answer real PayPal would not send: no debug id, a body outside the
    operation's documented schema (openapi-core, via the fidelity gate's checker), keys its
    schema does not define, an error whose debug_id differs from the header."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    problems = [] if response.headers.get(DEBUG_HEADER) else [f"{where}: no Paypal-Debug-Id header"]
    exchange = exchange_of(response)
    found = operation_of(exchange["method"], exchange["path"])
    if found is None:
        return problems  # the OAuth token, the checkout page, certificates: no spec here describes them
    checked = check_response("paypal", exchange)
    if checked.verdict != "valid":
        problems.append(f"{where}: {checked.verdict} {checked.problem}")
    schema = response_schema(*found, exchange["method"], response.status_code)
    body = response.json() if response.content else None
    if schema is not None and body is not None:
        problems += [f"{where}: undefined {key}" for key in undefined_keys(found[0].document, [schema], body)]
    if (
        response.status_code >= 400
        and isinstance(body, dict)
        and body.get("debug_id") != response.headers.get(DEBUG_HEADER)
    ):
        problems.append(f"{where}: body debug_id {body.get('debug_id')} is not the header's")
    return problems


class Recorder:
    """Every response a client received, for checking afterwards (an httpx response hook)."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        self.responses.append(response)

    def problems(self) -> list[str]:
        for response in self.responses:
            response.read()
        return [problem for response in self.responses for problem in faithfulness_problems(response)]


@contextmanager
def registered_webhook(http: httpx.Client, url: str, **options: Any) -> Iterator[dict[str, Any]]:
    """A sandbox PayPal webhook delivering to `url` (control API options: enabled_events, retry_delay_ms),
    removed afterwards."""
    response = http.post("/_sandbox/paypal/webhooks", json={"url": url, **options})
    assert response.status_code == 201, response.text
    yield response.json()
    http.delete(f"/_sandbox/paypal/webhooks/{response.json()['webhook_id']}")
