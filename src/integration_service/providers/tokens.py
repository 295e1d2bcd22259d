"""OAuth tokens of a connected integration: exchanged, stored encrypted, refreshed safely.

A refresh happens under a row lock (SELECT ... FOR UPDATE) on the integration, so concurrent
requests never race two refreshes: the second one waits, then finds the fresh token and uses it.
The rotated refresh token is written in the same transaction as the refresh, before the new access
token is used, so that a crash can never leave us holding only a refresh token the provider has
already retired. A refresh that fails marks the integration ERROR and stops; it never loops.
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from sqlalchemy import Connection, Engine, select

from integration_service.db.schema import integrations_credentials as credentials
from integration_service.db.token_refreshes import count_refresh
from integration_service.providers.base import OAuthApp
from integration_service.providers.errors import ProviderAuthError, ProviderUnavailable
from integration_service.security.encryption import SecretBox
from integration_service.security.tls import provider_trust
from integration_service.settings import Settings

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client


log = structlog.get_logger(__name__)


class TokenRefused(ValueError):
    """A token answer without an access token: Mautic, for one, sends its `{"errors": [...]}` list with a
    400 that Authlib does not recognise as an OAuth error. `error` is the provider's error type."""

    def __init__(self, token: dict[str, Any]) -> None:
        errors = token.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        self.error = str(first.get("type") or token.get("error") or "no access token in the answer")[:80]
        super().__init__(self.error)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None

    @classmethod
    def from_response(cls, token: dict[str, Any], previous_refresh_token: str | None = None) -> TokenSet:
        if not token.get("access_token"):
            raise TokenRefused(token)
        expires_at = None
        if token.get("expires_in") is not None:
            expires_at = datetime.now(UTC) + timedelta(seconds=float(token["expires_in"]))
        return cls(
            access_token=str(token["access_token"]),
            refresh_token=str(token.get("refresh_token") or previous_refresh_token or "") or None,
            expires_at=expires_at,
        )

    def columns(self, box: SecretBox) -> dict[str, Any]:
        return {
            "access_token_encrypted": box.encrypt(self.access_token),
            "refresh_token_encrypted": box.encrypt_optional(self.refresh_token),
            "token_expires_at": self.expires_at,
        }


def oauth_client(app: OAuthApp, settings: Settings, **kwargs: Any) -> OAuth2Client:
    return _oauth2_client_class()(
        client_id=app.client_id,
        client_secret=app.client_secret.get_secret_value(),
        token_endpoint_auth_method=app.token_auth_method,
        timeout=httpx.Timeout(settings.http_read_timeout_s, connect=settings.http_connect_timeout_s),
        verify=provider_trust(settings.provider_ca_bundle),
        **kwargs,
    )


def describe_oauth_failure(exc: Exception) -> str:
    if isinstance(exc, TokenRefused | _authlib_error()):
        return f"the provider refused the token request ({getattr(exc, 'error', '')})"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"the token endpoint answered HTTP {exc.response.status_code}"
    return f"the token endpoint could not be reached ({type(exc).__name__})"


def oauth_failures() -> tuple[type[Exception], ...]:
    """What a token request can raise, for an `except` clause."""
    return (_authlib_error(), httpx.HTTPError, ValueError)


# Authlib is imported when a token request is first made: 180 modules and 11.5 MB that a web process
# serving lists and webhooks never needs (issue 16's memory target).
def _authlib_error() -> type[Exception]:
    from authlib.integrations.base_client.errors import OAuthError

    error: type[Exception] = OAuthError  # Authlib is untyped
    return error


def _oauth2_client_class() -> type[OAuth2Client]:
    with warnings.catch_warnings():
        # Authlib 1.9 prefers the httpx2 fork and warns on import when it runs on httpx, which the whole
        # service uses (DESIGN.md) and Authlib still supports. Revisit when Authlib drops httpx.
        warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=DeprecationWarning)
        from authlib.integrations.httpx_client import OAuth2Client
    client_class: type[OAuth2Client] = OAuth2Client  # Authlib is untyped
    return client_class


class TokenManager:
    """Valid access tokens for one provider's integrations.

    A manager serves one sync run or one request. The token it read from the database is reused for the
    run's later calls until it nears expiry or the provider rejects it: a 100-page sync read (and
    decrypted) it 100 times, a third of its page fetcher's time (py-spy, issue 16). Another process
    refreshing meanwhile does not invalidate it: a refresh leaves the old access token valid to expiry,
    and a 401 comes back here as `rejected`, which goes to the database."""

    def __init__(self, engine: Engine, box: SecretBox, app: OAuthApp, settings: Settings) -> None:
        self.engine = engine
        self.box = box
        self.app = app
        self.settings = settings
        self.margin = timedelta(seconds=settings.token_refresh_margin_s)
        self._known: dict[uuid.UUID, tuple[str, datetime | None]] = {}  # last token read, and its expiry

    def access_token(self, integration_id: uuid.UUID, rejected: str | None = None) -> str:
        """A token to call the API with. `rejected`: a token the provider just answered 401 to."""
        known = self._known.get(integration_id)
        if known is not None and known[0] != rejected and not self._expiring(known[1]):
            return known[0]
        with self.engine.connect() as connection:
            row = self._tokens(connection, integration_id, lock=False)
        if row.access_token_encrypted is None:
            raise ProviderAuthError("the integration is not connected: run the connect flow first")
        current = self.box.decrypt(row.access_token_encrypted)
        if current != rejected and not self._expiring(row.token_expires_at):
            self._known[integration_id] = (current, row.token_expires_at)
            return current
        self._known.pop(integration_id, None)
        return self._refresh(integration_id, rejected)

    def _expiring(self, expires_at: datetime | None) -> bool:
        return expires_at is not None and expires_at - self.margin <= datetime.now(UTC)

    def _tokens(self, connection: Connection, integration_id: uuid.UUID, *, lock: bool) -> Any:
        statement = select(
            credentials.c.access_token_encrypted,
            credentials.c.refresh_token_encrypted,
            credentials.c.token_expires_at,
        ).where(credentials.c.id == integration_id)
        row = connection.execute(statement.with_for_update() if lock else statement).one_or_none()
        if row is None:
            raise ProviderAuthError("the integration no longer exists")
        return row

    def _refresh(self, integration_id: uuid.UUID, rejected: str | None) -> str:
        failure: str | None = None
        with self.engine.begin() as connection:
            row = self._tokens(connection, integration_id, lock=True)
            current = self.box.decrypt(row.access_token_encrypted)
            if current != rejected and not self._expiring(row.token_expires_at):
                return current  # another request refreshed while we waited for the lock
            if row.refresh_token_encrypted is None:
                failure = "the access token expired and there is no refresh token: reconnect the integration"
            else:
                refresh_token = self.box.decrypt(row.refresh_token_encrypted)
                try:
                    with oauth_client(self.app, self.settings) as client:
                        response = client.refresh_token(self.app.token_url, refresh_token=refresh_token)
                    fresh = TokenSet.from_response(dict(response), previous_refresh_token=refresh_token)
                except oauth_failures() as exc:
                    failure = f"token refresh failed: {describe_oauth_failure(exc)}; reconnect the integration"
                    with self.engine.begin() as counting:  # apart: this transaction may not commit
                        count_refresh(counting, "failure")
                    if isinstance(exc, httpx.TransportError):
                        raise ProviderUnavailable(failure) from None
                else:
                    connection.execute(
                        credentials.update()
                        .where(credentials.c.id == integration_id)
                        .values(**fresh.columns(self.box), sync_error=None)
                    )
                    count_refresh(connection, "success")
                    log.info("token refreshed", integration_id=str(integration_id), provider=self.app.token_url)
                    return fresh.access_token
        self.mark_failed(integration_id, failure)
        raise ProviderAuthError(failure)

    def mark_failed(self, integration_id: uuid.UUID, reason: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                credentials.update()
                .where(credentials.c.id == integration_id)
                .values(sync_status="ERROR", sync_error=reason)
            )
        log.warning("integration authorization failed", integration_id=str(integration_id), reason=reason)
