"""A provider's failure, as the API reports it: the one mapping from `ProviderError` to `ServiceError`.

Each area keeps the answers its routes document, stated side by side below so the differences are
visible and deliberate: PayPal's actions pass PayPal's own status on (a 404 is a 404, a refusal a
422 `provider_rejected`); Stripe and the marketing providers report a refusal as invalid input; a
marketing provider that no longer accepts the credentials is a 409 (reconnect), for the payment
providers a 502 naming the credential to fix. Messages are scrubbed of anything shaped like a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from integration_service.api.errors import (
    Conflict,
    ErrorResponse,
    InvalidInput,
    NotFound,
    ServiceError,
    Unavailable,
)
from integration_service.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailable,
)
from integration_service.security.redaction import scrub


class ProviderFailed(ServiceError):
    status_code, code = 502, "provider_error"


class ProviderRejected(ServiceError):
    status_code, code = 422, "provider_rejected"


PROVIDER_FAILED: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorResponse, "description": "The provider answered with something unusable"}
}


@dataclass(frozen=True)
class Reporting:
    """How one area's routes answer each kind of provider failure."""

    refused_credentials: type[ServiceError]
    credentials_hint: str  # appended to the message: which setting of the integration to fix
    refusal: type[ServiceError]  # the provider refused the request
    refusal_is_4xx_only: bool  # (PayPal) a refusal without a 4xx status is the provider failing
    not_found_passed_on: bool  # the provider's 404 is the API's 404
    unavailable: type[ServiceError]
    retry_after_s: int | None


ACTIONS = Reporting(  # marketing actions, and loading any integration's stored credentials
    refused_credentials=Conflict,
    credentials_hint="",
    refusal=InvalidInput,
    refusal_is_4xx_only=False,
    not_found_passed_on=False,
    unavailable=Unavailable,
    retry_after_s=None,
)
STRIPE = Reporting(
    refused_credentials=ProviderFailed,
    credentials_hint="",
    refusal=InvalidInput,
    refusal_is_4xx_only=False,
    not_found_passed_on=False,
    unavailable=ProviderFailed,
    retry_after_s=None,
)
PAYPAL = Reporting(
    refused_credentials=ProviderFailed,
    credentials_hint="; update the integration's apiKey/apiSecret",
    refusal=ProviderRejected,
    refusal_is_4xx_only=True,
    not_found_passed_on=True,
    unavailable=Unavailable,
    retry_after_s=30,
)


def as_service_error(exc: ProviderError, reporting: Reporting) -> ServiceError:
    message = scrub(exc.message)
    if isinstance(exc, ProviderAuthError):
        return reporting.refused_credentials(message + reporting.credentials_hint)
    if isinstance(exc, ProviderUnavailable):
        retry = None if reporting.retry_after_s is None else {"Retry-After": str(reporting.retry_after_s)}
        return reporting.unavailable(message, headers=retry)
    if isinstance(exc, ProviderRequestError):
        status = exc.status_code
        if status == 404 and reporting.not_found_passed_on:
            return NotFound(message)
        if not reporting.refusal_is_4xx_only or (status is not None and 400 <= status < 500):
            return reporting.refusal(message)
    return ProviderFailed(message)


@contextmanager
def reported_as(reporting: Reporting) -> Iterator[None]:
    """Provider failures inside the block leave it as the API's errors."""
    try:
        yield
    except ProviderError as exc:
        raise as_service_error(exc, reporting) from None
