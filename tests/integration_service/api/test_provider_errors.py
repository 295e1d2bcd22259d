"""The one mapping of a provider's failure to the API's answer (api/provider_errors.py), area by area."""

from __future__ import annotations

import pytest

from integration_service.api.provider_errors import ACTIONS, PAYPAL, STRIPE, Reporting, as_service_error
from integration_service.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
)

FAILURES: list[ProviderError] = [
    ProviderAuthError("refused"),
    ProviderRequestError("gone", 404),
    ProviderRequestError("bad", 400),
    ProviderRequestError("odd", None),
    ProviderUnavailable("down"),
    ProviderResponseError("garbled"),
]


@pytest.mark.parametrize(
    ("reporting", "expected"),
    [
        (ACTIONS, [(409, "conflict"), (422, "validation_failed"), (422, "validation_failed"),
                   (422, "validation_failed"), (503, "unavailable"), (502, "provider_error")]),
        (STRIPE, [(502, "provider_error"), (422, "validation_failed"), (422, "validation_failed"),
                  (422, "validation_failed"), (502, "provider_error"), (502, "provider_error")]),
        (PAYPAL, [(502, "provider_error"), (404, "not_found"), (422, "provider_rejected"),
                  (502, "provider_error"), (503, "unavailable"), (502, "provider_error")]),
    ],
    ids=["actions", "stripe", "paypal"],
)  # fmt: skip
def test_each_area_answers_as_it_documents(reporting: Reporting, expected: list[tuple[int, str]]) -> None:
    answers = [as_service_error(failure, reporting) for failure in FAILURES]
    assert [(answer.status_code, answer.code) for answer in answers] == expected


def test_paypal_names_the_credentials_to_fix_and_when_to_retry() -> None:
    assert as_service_error(ProviderAuthError("invalid_client"), PAYPAL).message == (
        "invalid_client; update the integration's apiKey/apiSecret"
    )
    assert as_service_error(ProviderUnavailable("down"), PAYPAL).headers == {"Retry-After": "30"}
    assert as_service_error(ProviderUnavailable("down"), ACTIONS).headers is None


def test_messages_are_scrubbed_of_secrets() -> None:
    leaked = ProviderRequestError("refused key sk_test_0123456789abcdefghijklmn", 400)
    assert "sk_test_0123456789abcdefghijklmn" not in as_service_error(leaked, ACTIONS).message
