"""Schemathesis hooks of `invoke fuzz` (contract/schemathesis.toml names this file).

Every generated Stripe webhook delivery is signed as Stripe signs its own, with the stage's signing secret
(FUZZ_STRIPE_WEBHOOK_SECRET, which harness.gates.fuzz passes to the run and nothing writes to a report): an
unsigned body is refused at the signature check, and the fuzzer would never reach the parsing and applying
of events behind it. The exact bytes signed are the bytes sent. Without the secret, nothing is signed.

The identifiers the run pinned in bodies (an operation's integrationId: harness.stack.fuzz_fixtures) go into
the coverage phase's bodies too, where Schemathesis (4.32) leaves parameter overrides out and sends a UUID
of its own: every such case was a 404 for an unknown integration before any of its other values was read.
Only a generated UUID is replaced, by the pinned one: an invalid value stays, to be refused as it should.

A generated DELETE of an integration (outside the stateful phase, which deletes what its chain created)
deletes one made for it just before, through the API with the run's token, when the run asks for it
(FUZZ_FRESH_DELETES: local runs that judge reach): a generated UUID names no integration, and pinning one
would leave every case after the first a 404. An invalid id stays, to be refused.

PayPal's deliveries stay unsigned: they are signed with the private key of a certificate PayPal serves,
which the harness does not hold (the provider sandbox makes its key in its own process and never exports it).
"""

from __future__ import annotations

import json
import os
import uuid
from functools import cache
from typing import Any

import httpx
import schemathesis
from schemathesis import Case, HookContext
from schemathesis.core import NotSet

from harness.gates.fuzz import BODY_IDENTIFIERS_ENV, FRESH_DELETES_ENV, STRIPE_SECRET_ENV
from harness.ops.smoke import stripe_signature
from harness.stack.fuzz_fixtures import is_uuid

STRIPE_WEBHOOK = ("POST", "/api/integrations/stripe/webhook")
DELETE_INTEGRATION = ("DELETE", "/api/integrations/{integration_id}")


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    pin_identifiers(case)
    delete_a_fresh_integration(case)
    sign_stripe_webhook(case, kwargs)


@cache
def _pinned() -> dict[str, dict[str, str]]:
    loaded = json.loads(os.environ.get(BODY_IDENTIFIERS_ENV) or "{}")
    return loaded if isinstance(loaded, dict) else {}


def pin_identifiers(case: Case[Any]) -> None:
    """A generated UUID in a pinned body field becomes the pinned one (in place: the checks see it too)."""
    pins = _pinned().get(f"{case.method.upper()} {case.operation.path}")
    if not pins or not isinstance(case.body, dict):
        return
    for name, value in pins.items():
        if is_uuid(case.body.get(name)):
            case.body[name] = value


def delete_a_fresh_integration(case: Case[Any]) -> None:
    """A generated UUID in a DELETE of an integration becomes an integration made for it (a XERO one: no
    provider is asked to make it)."""
    if os.environ.get(FRESH_DELETES_ENV) != "1" or (case.method.upper(), case.operation.path) != DELETE_INTEGRATION:
        return
    # Schemathesis records the phase only there (4.32: no public accessor).
    phase = case._meta.phase.name if case._meta is not None else None
    if phase == "stateful" or not is_uuid(case.path_parameters.get("integration_id")):
        return
    made = httpx.post(
        case.operation.schema.get_base_url().rstrip("/") + "/api/integrations",
        json={"integrationType": "XERO", "integrationName": f"fuzz delete {uuid.uuid4().hex[:8]}"},
        headers={"Authorization": f"Bearer {os.environ['FUZZ_API_TOKEN']}"},
        timeout=30,
    )
    made.raise_for_status()
    case.path_parameters["integration_id"] = made.json()["integration"]["id"]


def sign_stripe_webhook(case: Case[Any], kwargs: dict[str, Any]) -> None:
    secret = os.environ.get(STRIPE_SECRET_ENV)
    if not secret or (case.method.upper(), case.operation.path) != STRIPE_WEBHOOK:
        return
    payload = body_bytes(case.body)
    if payload is not None:
        kwargs["data"] = payload  # sent instead of Schemathesis's own serialisation of the same body
    case.headers["Stripe-Signature"] = stripe_signature(payload or b"", secret)


def body_bytes(body: object) -> bytes | None:
    """The bytes to send for a generated body (None: no body), as JSON: the webhook's only media type."""
    if isinstance(body, NotSet):
        return None
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode()
