"""Pure ASGI middleware: request context and security headers, body size limit, rate limit.

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request, and the body can be replayed.
RequestContextMiddleware also turns an unhandled exception into the API's 500: Starlette's own 500
(ServerErrorMiddleware) is sent from outside every middleware, so it would lack the security headers
and the request id that every other answer carries.
"""

from __future__ import annotations

import re
import time
import uuid

import psycopg
import structlog
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integration_service.api.errors import error_response, unexpected_error
from integration_service.security.api_tokens import TokenOwner, TokenVerifier
from integration_service.security.rate_limit import RateLimiter, Verdict
from integration_service.security.redaction import log_access

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RATE_LIMIT_EXEMPT = ("/api/health", "/metrics")


class RequestContextMiddleware:
    """A request id, one access-log line per request, and the security headers on every response,
    the 500 of an unhandled exception included."""

    def __init__(self, app: ASGIApp, *, strict_transport_security: bool) -> None:
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if strict_transport_security:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    *self.headers,
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if status is not None:
                raise  # the answer is under way: nothing left to send; the server closes the connection
            await unexpected_error(scope["path"], exc)(scope, receive, send_with_headers)
        finally:
            # The path only: query strings can carry OAuth codes and states.
            log_access(
                request_id,
                scope["method"],
                scope["path"],
                status or 500,
                round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class BodySizeLimitMiddleware:
    """Reject bodies over the limit with 413 before the app sees a byte; replay the rest to it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"the request body exceeds {self.max_bytes} bytes",
            details={"max_bytes": self.max_bytes},
        )
        await response(scope, receive, send)


def bearer_token(scope: Scope) -> str | None:
    """The token of `Authorization: Bearer <token>`, read exactly as the routes' HTTPBearer reads it
    (the scheme in any case), so that both see the same token."""
    scheme, token = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


class RateLimitMiddleware:
    """Limit each verified user, and every other request per client address; 429 with Retry-After.

    A token verified lately counts against its user, however the scheme is spelt; a token issued with a
    limit of its own (api_tokens.rate_limit, e.g. a fuzz run's raised one) counts against itself alone at
    that limit, so that it raises nothing for its user's other tokens. Anything else counts
    against the client address first: no token, a made-up one (so made-up tokens buy no bucket of their
    own, and a flood of them is refused here before it reaches the database), or a token not seen lately,
    which is then verified and, if live, counted against its user as well. The client address is the
    connection's peer, or what a trusted proxy put in X-Forwarded-For (TRUSTED_PROXIES, applied before).
    """

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, verifier: TokenVerifier) -> None:
        self.app = app
        self.limiter = limiter
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in RATE_LIMIT_EXEMPT or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        verdict = await self._count(scope, webhook=scope["path"].endswith("/webhook"))
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        response = error_response(
            429,
            "rate_limited",
            f"too many requests; retry after {verdict.retry_after_s} s",
            details={"retry_after_s": verdict.retry_after_s},
            headers={"Retry-After": str(verdict.retry_after_s)},
        )
        await response(scope, receive, send)

    async def _count(self, scope: Scope, *, webhook: bool) -> Verdict:
        token = bearer_token(scope)
        owner = None if token is None else self.verifier.recent_owner(token)
        if owner is not None:
            return self._hit(owner, webhook)
        client = scope.get("client")
        verdict = self.limiter.hit("address", client[0] if client else "unknown", webhook=webhook)
        if token is None or not verdict.allowed:
            return verdict
        # Forged tokens seen before are answered from memory; anything else is one lookup, once.
        try:
            owner = await self.verifier.owner_for(token)
        except psycopg.Error:
            return verdict  # the route's own lookup meets the same failure and answers it (503)
        return verdict if owner is None else self._hit(owner, webhook)

    def _hit(self, owner: TokenOwner, webhook: bool) -> Verdict:
        if owner.rate_limit is None:
            return self.limiter.hit("user", owner.user_id, webhook=webhook)
        # Its own limit for all its requests, webhook paths included: one window, one bucket.
        return self.limiter.hit("token", owner.token_hash, limit=owner.rate_limit)
