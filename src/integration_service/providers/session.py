"""`ProviderSession`: an integration's authenticated, retrying API calls.

A 401 triggers one refresh (under the lock in tokens.py) and one retry; a second 401 means the
provider has revoked the connection, which is reported, never retried in a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx

from integration_service.providers.base import Linked, OAuthProvider, ProviderApi
from integration_service.providers.errors import (
    ProviderAuthError,
    ProviderRequestError,
    ProviderResponseError,
)
from integration_service.providers.http import RetryPolicy, send_with_retries

# (token the provider rejected, or None) -> a token to use
TokenSource = Callable[[str | None], str]


class ProviderSession(ProviderApi):
    def __init__(
        self,
        provider: OAuthProvider,
        linked: Linked,
        client: httpx.Client,
        tokens: TokenSource,
        policy: RetryPolicy,
    ) -> None:
        self.provider = provider
        self.linked = linked
        self.client = client
        self.tokens = tokens
        self.policy = policy

    def get_json(
        self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        return self.send_json("GET", url, params=params, headers=headers)

    def send_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """One call, its JSON answer. Writes are sent once (a retry after a timeout could repeat them);
        a 401 is still retried once with a refreshed token, since the provider did nothing with it."""
        policy = self.policy if method == "GET" else replace(self.policy, attempts=1)
        token = self.tokens(None)
        response = self._send(method, url, params, headers, body, token, policy)
        if response.status_code == 401:
            token = self.tokens(token)
            response = self._send(method, url, params, headers, body, token, policy)
            if response.status_code == 401:
                raise ProviderAuthError(
                    "the provider rejected a freshly refreshed token: the connection was revoked; "
                    "reconnect the integration"
                )
        if response.status_code >= 400:
            raise ProviderRequestError(
                f"{self.provider.slug} refused {response.request.method} {response.request.url.path}: "
                f"{self.provider.error_message(response)}",
                response.status_code,
            )
        try:
            # Decimal, not float: amounts go to NUMERIC columns exactly as the provider sent them.
            return response.json(parse_float=Decimal)
        except ValueError:
            raise ProviderResponseError(
                f"{self.provider.slug} answered {response.request.url.path} with something that is not JSON"
            ) from None

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        token: str,
        policy: RetryPolicy,
    ) -> httpx.Response:
        all_headers = {
            **self.provider.api_headers(self.linked.custom_data),
            **(headers or {}),
            "Authorization": f"Bearer {token}",
        }
        return send_with_retries(
            self.client,
            lambda: self.client.build_request(method, url, params=params, headers=all_headers, json=body),
            policy,
            self.provider.is_retryable,
        )


def fixed_token(token: str) -> TokenSource:
    """For calls made right after consent, before the tokens are stored: no refresh possible."""

    def source(rejected: str | None) -> str:
        if rejected is not None:
            raise ProviderAuthError("the provider rejected the token it has just issued")
        return token

    return source
