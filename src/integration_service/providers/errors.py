"""What can go wrong talking to a provider. Messages are safe to store and show: no secrets."""

from __future__ import annotations


class ProviderError(Exception):
    """Root of provider failures; `message` is what the sync log and the API report."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProviderAuthError(ProviderError):
    """The provider no longer accepts this connection's tokens: the user must reconnect."""


class ProviderRequestError(ProviderError):
    """The provider answered with an error that retrying will not fix."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ProviderAddressRefused(ProviderRequestError):
    """A user-supplied URL leads to an address the service must not connect to (security/outbound.py)."""


class ProviderUnavailable(ProviderError):
    """Rate limits, server errors or timeouts outlasted the retry budget."""


class ProviderResponseError(ProviderError):
    """The provider's answer did not have the documented shape."""


class ConnectionTestUnsupported(ProviderError):
    """The provider has no connection test (yet): `SyncProvider.test_connection` is not implemented."""
