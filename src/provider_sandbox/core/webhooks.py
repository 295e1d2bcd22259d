"""Webhook delivery shared by the payment providers: endpoints, signed POSTs, retries, a log.

A provider supplies a `Signer` (how its deliveries are signed, and how each negative variant
breaks the signature); this module owns the rest. Deliveries triggered by state changes run in the
background (as the real providers deliver asynchronously); deliveries asked for through the
control API are awaited, so a test knows the receiver has them when the call returns.
Every attempt -- status, a snippet of the answer, or the transport error -- is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import httpx

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.hints import hint

logger = logging.getLogger("provider_sandbox.core.webhooks")

# Variants every provider supports; a signer may add its own (PayPal: foreign_cert_url).
# `intercepted`: signed genuinely but never sent, as if a man in the middle took it in transit; the
# attempt (with its headers) is recorded, so a test can play the attacker who holds them.
INTERCEPTED = "intercepted"
COMMON_VARIANTS = ("valid", "wrong_secret", "stale_timestamp", "tampered_body", "missing_signature", INTERCEPTED)
SNIPPET_CHARS = 500
MAX_ATTEMPTS_LIMIT = 10


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str  # Stripe: the whsec_ signing secret; PayPal: unused (it signs with its own key)
    scope: str  # which account's events it receives ("" = every account)
    enabled_events: tuple[str, ...] = ("*",)
    max_attempts: int = 3
    retry_delay_ms: int = 200
    created: int = 0
    origin: str = ""  # the sandbox base URL the registrant used (PayPal builds its cert URL from it)

    def wants(self, event_type: str) -> bool:
        return any(
            pattern == "*" or pattern == event_type or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
            for pattern in self.enabled_events
        )

    def to_json(self, with_secret: bool = False) -> dict[str, Any]:
        body = asdict(self)
        body["enabled_events"] = list(self.enabled_events)
        body["secret"] = self.secret if with_secret else (hint(self.secret) if self.secret else None)
        return body


@dataclass(frozen=True)
class Transmission:
    headers: dict[str, str]
    body: bytes


class Signer(Protocol):
    variants: tuple[str, ...]

    def sign(self, endpoint: Endpoint, event: dict[str, Any], body: bytes, variant: str) -> Transmission:
        """Headers and (possibly tampered) body for one attempt, signed as `variant` says."""
        ...


@dataclass
class Attempt:
    seq: int
    delivery_id: str
    endpoint_id: str
    url: str
    event_id: str
    event_type: str
    attempt: int
    variant: str
    at: str
    status_code: int | None
    ok: bool
    response_body: str
    error: str | None
    headers: dict[str, str] = field(default_factory=dict)  # signature headers are not secrets


def tamper(body: bytes) -> bytes:
    """Change the event after signing, as a man in the middle would: raise the first amount."""
    event = json.loads(body)
    if not _raise_amount(event):
        event["tampered"] = True
    return json.dumps(event, separators=(",", ":")).encode()


def _raise_amount(node: Any) -> bool:
    if isinstance(node, dict):
        amount = node.get("amount")
        if isinstance(amount, int) and not isinstance(amount, bool):
            node["amount"] = amount + 100_00  # Stripe: minor units
            return True
        if isinstance(amount, dict) and isinstance(amount.get("total"), str):
            amount["total"] = "9999.00"  # PayPal: a decimal string
            return True
        return any(_raise_amount(value) for value in node.values())
    if isinstance(node, list):
        return any(_raise_amount(value) for value in node)
    return False


def delivery_trust(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """What deliveries verify receivers with: the public roots, plus `ca_bundle` (a private CA) when given."""
    if ca_bundle is None:
        return True
    context = httpx.create_ssl_context()
    context.load_verify_locations(cafile=ca_bundle)  # a missing or empty file fails the sandbox's start
    return context


class WebhookDispatcher:
    def __init__(
        self, provider: str, clock: SandboxClock, signer: Signer, id_prefix: str, ca_bundle: str | None = None
    ) -> None:
        self.provider = provider
        self.clock = clock
        self.signer = signer
        self.id_prefix = id_prefix
        self.endpoints: dict[str, Endpoint] = {}
        self.attempts: list[Attempt] = []
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[list[Attempt]]] = set()
        self._verify = delivery_trust(ca_bundle)

    # --- endpoints -------------------------------------------------------------------------------

    def register(self, url: str, secret: str, scope: str, **options: Any) -> Endpoint:
        endpoint = Endpoint(
            id=f"{self.id_prefix}{secrets.token_hex(12)}",
            url=url,
            secret=secret,
            scope=scope,
            created=int(self.clock.now().timestamp()),
            **options,
        )
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def matching(self, scope: str, event_type: str) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.scope in ("", scope) and e.wants(event_type)]

    # --- delivery --------------------------------------------------------------------------------

    def dispatch(self, event: dict[str, Any], scope: str) -> None:
        """Deliver to every interested endpoint in the background (needs a running event loop)."""
        for endpoint in self.matching(scope, str(event.get("type") or event.get("event_type"))):
            task = asyncio.get_running_loop().create_task(self._deliver(endpoint, event, "valid", True))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def deliver_now(
        self,
        endpoint: Endpoint,
        events: Sequence[dict[str, Any]],
        times: int = 1,
        variant: str = "valid",
        retry: bool = True,
    ) -> list[Attempt]:
        """Deliver each event `times` times, strictly in the order given; return the attempts."""
        made: list[Attempt] = []
        for event in events:
            for _ in range(times):
                made.extend(await self._deliver(endpoint, event, variant, retry))
        return made

    async def _deliver(self, endpoint: Endpoint, event: dict[str, Any], variant: str, retry: bool) -> list[Attempt]:
        body = json.dumps(event, separators=(",", ":")).encode()
        delivery_id = f"dlv_{secrets.token_hex(8)}"
        made: list[Attempt] = []
        attempts = endpoint.max_attempts if retry else 1
        for number in range(1, attempts + 1):
            attempt = await self._attempt(endpoint, event, body, variant, delivery_id, number)
            made.append(attempt)
            if attempt.ok or number == attempts:
                break
            await asyncio.sleep(endpoint.retry_delay_ms * 2 ** (number - 1) / 1000)
        return made

    async def _attempt(
        self, endpoint: Endpoint, event: dict[str, Any], body: bytes, variant: str, delivery_id: str, number: int
    ) -> Attempt:
        transmission = self.signer.sign(endpoint, event, body, variant)
        headers = {"Content-Type": "application/json", "User-Agent": f"{self.provider}-sandbox-webhooks/1.0"}
        headers.update(transmission.headers)
        status: int | None = None
        snippet, error = "", None
        if variant == INTERCEPTED:
            error = "intercepted in transit: signed, never sent"
        else:
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0), verify=self._verify) as client:
                    response = await client.post(endpoint.url, content=transmission.body, headers=headers)
                status, snippet = response.status_code, response.text[:SNIPPET_CHARS]
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:SNIPPET_CHARS]
        attempt = Attempt(
            seq=next(self._seq),
            delivery_id=delivery_id,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            event_id=str(event.get("id")),
            event_type=str(event.get("type") or event.get("event_type")),
            attempt=number,
            variant=variant,
            at=self.clock.now().isoformat(),
            status_code=status,
            ok=status is not None and 200 <= status < 300,
            response_body=snippet,
            error=error,
            headers=transmission.headers,
        )
        self.attempts.append(attempt)
        # The URL and outcome only: signatures and secrets stay out of the log.
        logger.info(
            "%s webhook %s -> %s attempt %d: %s",
            self.provider,
            attempt.event_type,
            endpoint.url,
            number,
            status if status is not None else error,
        )
        return attempt

    async def drain(self) -> int:
        """Wait for background deliveries (including their retries); return how many there were."""
        pending = list(self._tasks)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def log(self, endpoint_id: str | None = None, event_id: str | None = None) -> list[dict[str, Any]]:
        return [
            asdict(a) for a in self.attempts if endpoint_id in (None, a.endpoint_id) and event_id in (None, a.event_id)
        ]
