"""Schemathesis hooks of `invoke fuzz` (contract/schemathesis.toml names this file).

Every generated Stripe webhook delivery is signed as Stripe signs its own, with the stage's signing secret
(FUZZ_STRIPE_WEBHOOK_SECRET, which harness.gates.fuzz passes to the run and nothing writes to a report): an
unsigned body is refused at the signature check, and the fuzzer would never reach the parsing and applying
of events behind it. The exact bytes signed are the bytes sent. Without the secret, nothing is signed.

PayPal's deliveries stay unsigned: they are signed with the private key of a certificate PayPal serves,
which the harness does not hold (the provider sandbox makes its key in its own process and never exports it).
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from schemathesis import Case, HookContext
from schemathesis.core import NotSet

from harness.gates.fuzz import STRIPE_SECRET_ENV
from harness.ops.smoke import stripe_signature

STRIPE_WEBHOOK = ("POST", "/api/integrations/stripe/webhook")


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
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
