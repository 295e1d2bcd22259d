"""Stripe webhook signing, exactly Stripe's: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>` with the endpoint's `whsec_...` secret, so `stripe.Webhook.construct_event` accepts
genuine deliveries. Timestamps are real wall-clock time, never the sandbox clock: the receiver
compares them with its own clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from provider_sandbox.core.webhooks import COMMON_VARIANTS, Endpoint, Transmission, tamper

STALE_BY_S = 3600  # well past the SDK's default 300 s tolerance


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class StripeSigner:
    variants: tuple[str, ...] = COMMON_VARIANTS

    def sign(self, endpoint: Endpoint, event: dict[str, Any], body: bytes, variant: str) -> Transmission:
        timestamp = int(time.time())
        secret = endpoint.secret
        if variant == "stale_timestamp":
            timestamp -= STALE_BY_S
        if variant == "wrong_secret":
            secret = f"whsec_{secrets.token_hex(16)}"
        header = stripe_signature(secret, timestamp, body)
        if variant == "tampered_body":
            body = tamper(body)
        headers = {} if variant == "missing_signature" else {"Stripe-Signature": header}
        return Transmission(headers, body)
