"""PayPal REST calls for one integration: a cached client-credentials token and retried JSON requests.

Tokens come from `POST /v1/oauth2/token` (Basic auth with the REST app's client id and secret) and
live about 9 hours; they are cached in process memory until `TOKEN_REFRESH_MARGIN_S` before they
expire. The cache key includes a hash of the secret, so a caller who knows only a client id can
never ride on a token someone else's secret obtained. A 401 from the API drops the token and
retries once with a fresh one (PayPal may revoke tokens early).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from integration_service.providers.base import ApiCredentials, Linked
from integration_service.providers.errors import (
    ProviderAuthError,
    ProviderRequestError,
    ProviderResponseError,
)
from integration_service.providers.http import RetryPolicy, send_with_retries

TOKEN_PATH = "/v1/oauth2/token"  # noqa: S105 - a path, not a secret


@dataclass
class _Token:
    value: str
    refresh_at: float  # time.monotonic() after which a new token is fetched


class TokenCache:
    """Access tokens by (base URL, client id, secret hash); one fetch at a time per key."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    @staticmethod
    def key(base_url: str, credentials: ApiCredentials) -> tuple[str, str, str]:
        secret_hash = hashlib.sha256((credentials.api_secret or "").encode()).hexdigest()
        return (base_url, credentials.api_key, secret_hash)

    def get(self, key: tuple[str, str, str], fetch: Any, margin_s: float) -> str:
        """The cached token, or one from `fetch() -> (token, expires_in_s)` if none is fresh."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._tokens.get(key)
            if cached is not None and time.monotonic() < cached.refresh_at:
                return cached.value
            value, expires_in = fetch()
            # Never cache for less than half the lifetime: a margin larger than a short-lived token
            # would otherwise mean a fetch per call.
            lifetime = max(0.0, float(expires_in) - min(margin_s, float(expires_in) / 2))
            self._tokens[key] = _Token(value, time.monotonic() + lifetime)
            return str(value)

    def drop(self, key: tuple[str, str, str], value: str) -> None:
        with self._guard:
            cached = self._tokens.get(key)
            if cached is not None and cached.value == value:
                del self._tokens[key]


TOKENS = TokenCache()


def error_text(response: httpx.Response) -> str:
    """PayPal's own words (`name: message`, the first detail's issue), never a header or a token."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    if "error" in body:  # the OAuth endpoint's shape
        return f"{body.get('error')}: {str(body.get('error_description', ''))[:200]}"
    text = f"{body.get('name', f'HTTP {response.status_code}')}: {str(body.get('message', ''))[:200]}"
    details = body.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        first = details[0]
        issue = first.get("issue") or ""
        where = first.get("field") or ""
        text += f" ({issue}{' at ' + where if where else ''}: {str(first.get('description', ''))[:200]})"
    return text


class PayPalClient:
    """What PayPal actions and syncs call the API through, for one integration."""

    def __init__(
        self,
        linked: Linked,
        credentials: ApiCredentials,
        http: httpx.Client,
        base_url: str,
        policy: RetryPolicy,
        margin_s: float,
        tokens: TokenCache = TOKENS,
    ) -> None:
        self.linked = linked
        self._credentials = credentials
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._policy = policy
        self._margin_s = margin_s
        self._tokens = tokens
        self._key = tokens.key(self.base_url, credentials)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call("GET", path, params=params)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None for 204); ProviderError subclasses for every failure. `headers` adds
        request headers PayPal reads (e.g. Orders v2's `Prefer`)."""
        token, request_id = self._token(), uuid.uuid4().hex
        extra = dict(headers or {})
        response = self._send(method, path, params, body, token, request_id, extra)
        if response.status_code == 401:
            self._tokens.drop(self._key, token)
            response = self._send(method, path, params, body, self._token(), request_id, extra)
            if response.status_code == 401:
                raise ProviderAuthError(f"PayPal refused a fresh access token: {error_text(response)}")
        if response.status_code >= 400:
            raise ProviderRequestError(
                f"PayPal refused {method} {path.split('?')[0]}: {error_text(response)}", response.status_code
            )
        if response.status_code == 204 or not response.content:
            return None
        try:
            # Decimal, not float: amounts go to NUMERIC columns exactly as PayPal sent them.
            return response.json(parse_float=Decimal)
        except ValueError:
            raise ProviderResponseError(f"PayPal answered {path} with something that is not JSON") from None

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        token: str,
        request_id: str,
        extra: dict[str, str],
    ) -> httpx.Response:
        headers = {**extra, "Authorization": f"Bearer {token}", "Accept": "application/json"}
        if method == "POST":
            # One id per logical call, the same on every retry: PayPal then performs a retried POST once.
            headers["PayPal-Request-Id"] = request_id
        return send_with_retries(
            self._http,
            lambda: self._http.build_request(method, self.base_url + path, params=params, json=body, headers=headers),
            self._policy,
        )

    def access_token(self) -> str:
        """A valid token (cached); for the connection test. Never logged or returned to a client."""
        return self._token()

    def _token(self) -> str:
        return self._tokens.get(self._key, self._fetch_token, self._margin_s)

    def _fetch_token(self) -> tuple[str, float]:
        if not self._credentials.api_secret:
            raise ProviderAuthError("the PayPal integration has no client secret: set apiSecret")
        pair = f"{self._credentials.api_key}:{self._credentials.api_secret}".encode()
        basic = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        response = send_with_retries(
            self._http,
            lambda: self._http.build_request(
                "POST",
                self.base_url + TOKEN_PATH,
                data={"grant_type": "client_credentials"},
                headers={"Accept": "application/json", **basic},
            ),
            self._policy,
        )
        if response.status_code in (400, 401, 403):
            raise ProviderAuthError(
                f"PayPal refused the REST app credentials ({error_text(response)}): check apiKey and apiSecret"
            )
        if response.status_code >= 400:
            raise ProviderRequestError(f"PayPal token request failed: {error_text(response)}", response.status_code)
        try:
            body = response.json()
            return str(body["access_token"]), float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError):
            raise ProviderResponseError("PayPal's token answer has no access_token") from None
