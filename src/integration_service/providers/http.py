"""Outbound HTTP to providers: explicit timeouts, and bounded retries with backoff and jitter.

Retried: transport errors (connect/read timeouts, resets), 429 and 5xx, and whatever a provider's
own rate-limit signal is (MYOB answers 403 `RateLimitError`). A `Retry-After` is honoured when it
fits in the budget; a longer one fails the call rather than blocking a sync for minutes. Never
retried: a TLS certificate the server cannot prove (it will not prove it on the next try either), and
an address the outbound-URL guard refuses.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import stamina

from integration_service.providers.errors import ProviderAddressRefused, ProviderUnavailable
from integration_service.security.outbound import OutboundRefused
from integration_service.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    total_s: float
    initial_wait_s: float
    backoff_max_s: float
    max_retry_after_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            attempts=settings.http_retry_attempts,
            total_s=settings.http_retry_total_s,
            initial_wait_s=settings.http_retry_initial_wait_s,
            backoff_max_s=settings.http_retry_backoff_max_s,
            max_retry_after_s=settings.http_retry_max_wait_s,
        )


class _RetryableResponse(Exception):
    def __init__(self, response: httpx.Response, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after_s = retry_after_s


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds, from either of its forms (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def timeouts(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.http_read_timeout_s, connect=settings.http_connect_timeout_s)


def default_is_retryable(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def certificate_failure(exc: BaseException) -> bool:
    """Whether a transport error was caused by TLS certificate verification (httpx chains the cause)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def send_with_retries(
    client: httpx.Client,
    build_request: Callable[[], httpx.Request],
    policy: RetryPolicy,
    is_retryable: Callable[[httpx.Response], bool] = default_is_retryable,
) -> httpx.Response:
    """Send, retrying what is worth retrying; the final answer is returned whatever its status."""

    def backoff(exc: Exception) -> bool | float:
        if isinstance(exc, _RetryableResponse):
            if exc.retry_after_s is None:
                return True
            return exc.retry_after_s if exc.retry_after_s <= policy.max_retry_after_s else False
        return isinstance(exc, httpx.TransportError) and not certificate_failure(exc)

    try:
        for attempt in stamina.retry_context(
            on=backoff,
            attempts=policy.attempts,
            timeout=policy.total_s,
            wait_initial=policy.initial_wait_s,
            wait_max=policy.backoff_max_s,
            wait_jitter=policy.initial_wait_s,
        ):
            with attempt:
                response = client.send(build_request())
                if is_retryable(response):
                    raise _RetryableResponse(response, retry_after_seconds(response))
                return response
    except _RetryableResponse as exc:
        waited = "" if exc.retry_after_s is None else f" (Retry-After {exc.retry_after_s:.0f} s)"
        raise ProviderUnavailable(
            f"{exc.response.request.url.host} answered HTTP {exc.response.status_code}{waited} "
            "and kept doing so through every retry"
        ) from None
    except OutboundRefused as exc:
        raise ProviderAddressRefused(f"refused to connect: {exc}") from None
    except httpx.TransportError as exc:
        if certificate_failure(exc):
            raise ProviderUnavailable(
                f"{exc.request.url.host} did not present a TLS certificate we trust (not retried)"
            ) from None
        raise ProviderUnavailable(f"could not reach the provider: {type(exc).__name__}") from None
    raise AssertionError("unreachable: stamina either returns, retries or raises")
