"""A small OAuth 2.0 authorization-code server shared by every OAuth provider simulator.

What it enforces, because real providers do and a service must cope with it:
- authorize: known client_id, exact redirect_uri, response_type=code; auto-consent (no UI).
- token: client authentication by HTTP Basic or client_secret_post (wrong secret -> 401
  invalid_client); codes are single-use and short-lived, bound to client and redirect_uri.
- refresh tokens rotate: each refresh issues a new one and the previous one is dead
  (400 invalid_grant). Replaying a used code revokes what it issued (RFC 6749 section 4.1.2).
Provider modules add their own response fields (Xero id_token, QuickBooks x_refresh_token_...).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.hints import fingerprint, hint


class OAuthError(Exception):
    """An RFC 6749 error response: `{"error": ..., "error_description": ...}` with a status."""

    def __init__(self, status: int, error: str, description: str, basic_challenge: bool = False) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.basic_challenge = basic_challenge

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class OAuthProfile:
    """A provider's token rules, from its public documentation."""

    provider: str
    access_ttl_s: int
    refresh_ttl_s: int
    code_ttl_s: int = 300
    refresh_scope: str | None = None  # e.g. Xero issues refresh tokens only with offline_access
    # Adds provider-specific fields to a token response (body, grant) -> body.
    decorate: Callable[[dict[str, Any], Grant], dict[str, Any]] = lambda body, grant: body


@dataclass
class Client:
    provider: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    app_name: str


@dataclass
class AuthCode:
    code: str
    grant: Grant
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass
class AccessToken:
    token: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    expires_at: datetime
    rotated: bool = False
    revoked: bool = False


@dataclass
class Grant:
    """One consent: a client's access to some tenants, and the family of tokens it produced."""

    grant_id: str
    provider: str
    client_id: str
    tenant_ids: tuple[str, ...]
    scope: str
    created_at: datetime
    user_id: str
    access_tokens: list[AccessToken] = field(default_factory=list)
    refresh_tokens: list[RefreshToken] = field(default_factory=list)

    @property
    def current_refresh(self) -> RefreshToken | None:
        live = [rt for rt in self.refresh_tokens if not rt.rotated and not rt.revoked]
        return live[-1] if live else None


@dataclass(frozen=True)
class BearerCheck:
    """The outcome of checking an Authorization header: a grant, or why there is none."""

    grant: Grant | None
    problem: str  # "" when valid; else "missing" | "malformed" | "unknown" | "expired" | "revoked"
    expired_at: datetime | None = None


def is_local_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and parts.hostname in ("localhost", "127.0.0.1")


class OAuthServer:
    def __init__(self, clock: SandboxClock, profiles: Mapping[str, OAuthProfile]) -> None:
        self.clock = clock
        self.profiles = dict(profiles)
        self.clients: dict[tuple[str, str], Client] = {}
        self._codes: dict[str, AuthCode] = {}
        self._grants: dict[str, Grant] = {}
        self._access: dict[str, tuple[Grant, AccessToken]] = {}
        self._refresh: dict[str, tuple[Grant, RefreshToken]] = {}

    # --- clients -------------------------------------------------------------------------------

    def register_client(self, client: Client) -> Client:
        self.clients[(client.provider, client.client_id)] = client
        return client

    def client(self, provider: str, client_id: str) -> Client | None:
        return self.clients.get((provider, client_id))

    # --- authorize ------------------------------------------------------------------------------

    def check_authorize_request(self, provider: str, params: Mapping[str, str]) -> Client:
        """Errors that must NOT redirect (unknown client, unregistered redirect_uri) raise 400."""
        client = self.client(provider, params.get("client_id", ""))
        if client is None:
            raise OAuthError(400, "unauthorized_client", "unknown client_id")
        redirect_uri = params.get("redirect_uri", "")
        allowed = redirect_uri in client.redirect_uris if client.redirect_uris else is_local_redirect(redirect_uri)
        if not redirect_uri or not allowed:
            raise OAuthError(400, "invalid_request", "redirect_uri is missing or not registered for this client")
        return client

    def authorize(
        self,
        provider: str,
        params: Mapping[str, str],
        tenant_ids: tuple[str, ...],
        extra: Mapping[str, str] | None = None,
    ) -> str:
        """Auto-consent; return the redirect URL carrying `code` and `state` (or an error)."""
        client = self.check_authorize_request(provider, params)
        redirect_uri = params["redirect_uri"]
        state = params.get("state")
        if params.get("response_type") != "code":
            return _with_query(redirect_uri, {"error": "unsupported_response_type", "state": state})
        now = self.clock.now()
        grant = Grant(
            grant_id=secrets.token_hex(16),
            provider=provider,
            client_id=client.client_id,
            tenant_ids=tenant_ids,
            scope=params.get("scope", ""),
            created_at=now,
            user_id=params.get("sandbox_user", "sandbox-user"),
        )
        code = secrets.token_urlsafe(24)
        self._codes[code] = AuthCode(
            code=code,
            grant=grant,
            redirect_uri=redirect_uri,
            expires_at=now + timedelta(seconds=self.profiles[provider].code_ttl_s),
        )
        return _with_query(redirect_uri, {"code": code, "state": state, **(extra or {})})

    # --- token ---------------------------------------------------------------------------------

    def authenticate_client(self, provider: str, form: Mapping[str, str], authorization: str | None) -> Client:
        basic = bool(authorization and authorization.lower().startswith("basic "))
        if basic and authorization:
            try:
                decoded = base64.b64decode(authorization.split(" ", 1)[1].strip(), validate=True).decode()
                client_id, _, secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "malformed Basic credentials", True) from None
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self.client(provider, client_id)
        if client is None or not secret or not secrets.compare_digest(secret, client.client_secret):
            raise OAuthError(401, "invalid_client", "client authentication failed", basic)
        return client

    def token(self, provider: str, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        client = self.authenticate_client(provider, form, authorization)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            grant = self._redeem_code(client, form)
        elif grant_type == "refresh_token":
            grant = self._redeem_refresh(client, form.get("refresh_token", ""))
        else:
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        return self._issue(grant)

    def client_credentials(self, provider: str, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        """RFC 6749 section 4.4: a token for the client itself (PayPal REST apps); no refresh token
        unless the profile's refresh_scope is requested."""
        client = self.authenticate_client(provider, form, authorization)
        grant_type = form.get("grant_type", "")
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        grant = Grant(
            grant_id=secrets.token_hex(16),
            provider=provider,
            client_id=client.client_id,
            tenant_ids=(),
            scope=form.get("scope", ""),
            created_at=self.clock.now(),
            user_id=client.client_id,
        )
        self._grants[grant.grant_id] = grant
        return self._issue(grant)

    def _redeem_code(self, client: Client, form: Mapping[str, str]) -> Grant:
        record = self._codes.get(form.get("code", ""))
        if record is None or record.grant.client_id != client.client_id:
            raise OAuthError(400, "invalid_grant", "authorization code is invalid")
        if record.used:
            self._revoke_grant(record.grant)  # a replayed code may be stolen: kill its tokens
            raise OAuthError(400, "invalid_grant", "authorization code has already been used")
        if self.clock.now() >= record.expires_at:
            raise OAuthError(400, "invalid_grant", "authorization code has expired")
        if form.get("redirect_uri", "") != record.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization request")
        record.used = True
        self._grants[record.grant.grant_id] = record.grant
        return record.grant

    def _redeem_refresh(self, client: Client, token: str) -> Grant:
        found = self._refresh.get(token)
        if found is None or found[0].client_id != client.client_id:
            raise OAuthError(400, "invalid_grant", "refresh token is invalid")
        grant, record = found
        if record.revoked or record.rotated:
            raise OAuthError(400, "invalid_grant", "refresh token has been revoked or already used")
        if self.clock.now() >= record.expires_at:
            raise OAuthError(400, "invalid_grant", "refresh token has expired")
        record.rotated = True
        return grant

    def _issue(self, grant: Grant) -> dict[str, Any]:
        profile = self.profiles[grant.provider]
        now = self.clock.now()
        access = AccessToken(token=secrets.token_urlsafe(32), expires_at=now + timedelta(seconds=profile.access_ttl_s))
        grant.access_tokens.append(access)
        self._access[access.token] = (grant, access)
        body: dict[str, Any] = {
            "access_token": access.token,
            "token_type": "Bearer",
            "expires_in": profile.access_ttl_s,
            "scope": grant.scope,
        }
        if profile.refresh_scope is None or profile.refresh_scope in grant.scope.split():
            refresh = RefreshToken(
                token=secrets.token_urlsafe(32), expires_at=now + timedelta(seconds=profile.refresh_ttl_s)
            )
            grant.refresh_tokens.append(refresh)
            self._refresh[refresh.token] = (grant, refresh)
            body["refresh_token"] = refresh.token
        return profile.decorate(body, grant)

    # --- bearer checks, revocation, expiry ------------------------------------------------------

    def check_bearer(self, provider: str, authorization: str | None) -> BearerCheck:
        if not authorization:
            return BearerCheck(None, "missing")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return BearerCheck(None, "malformed")
        found = self._access.get(token.strip())
        if found is None or found[0].provider != provider:
            return BearerCheck(None, "unknown")
        grant, access = found
        if access.revoked:
            return BearerCheck(None, "revoked")
        if self.clock.now() >= access.expires_at:
            return BearerCheck(None, "expired", access.expires_at)
        return BearerCheck(grant, "")

    def revoke_token(self, provider: str, token: str) -> bool:
        """Revoking any token of a consent ends the whole consent (Xero and Intuit both do this)."""
        grant = self._grant_of(token)
        if grant is None or grant.provider != provider:
            return False
        self._revoke_grant(grant)
        return True

    def _grant_of(self, token: str) -> Grant | None:
        found = self._access.get(token) or self._refresh.get(token)
        return found[0] if found else None

    @staticmethod
    def _revoke_grant(grant: Grant) -> None:
        for access in grant.access_tokens:
            access.revoked = True
        for refresh in grant.refresh_tokens:
            refresh.revoked = True

    def _select(self, token: str | None, provider: str | None, tenant_id: str | None = None) -> list[Grant]:
        if token:
            grant = self._grant_of(token)
            return [grant] if grant else []
        return [
            g
            for g in self._grants.values()
            if (provider is None or g.provider == provider) and (tenant_id is None or tenant_id in g.tenant_ids)
        ]

    def expire(self, token: str | None = None, provider: str | None = None, tenant_id: str | None = None) -> int:
        """Make access tokens expired now (a refresh token given by value is expired too)."""
        past = self.clock.now() - timedelta(seconds=1)
        count = 0
        if token and token in self._refresh:
            self._refresh[token][1].expires_at = past
            return 1
        for grant in self._select(token, provider, tenant_id):
            for access in grant.access_tokens:
                if token is None or access.token == token:
                    access.expires_at = min(access.expires_at, past)
                    count += 1
        return count

    def revoke(self, token: str | None = None, provider: str | None = None, tenant_id: str | None = None) -> int:
        """Revoke whole consents: the token's, or every one of the provider (covering `tenant_id`, if given)."""
        grants = self._select(token, provider, tenant_id)
        for grant in grants:
            self._revoke_grant(grant)
        return len(grants)

    def describe(self, provider: str | None = None) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            {
                "grant_id": grant.grant_id,
                "provider": grant.provider,
                "client_id": grant.client_id,
                "tenant_ids": list(grant.tenant_ids),
                "scope": grant.scope,
                "created_at": grant.created_at.isoformat(),
                "access_tokens": [
                    {
                        "hint": hint(a.token),
                        "sha256": fingerprint(a.token),
                        "expires_at": a.expires_at.isoformat(),
                        "expired": now >= a.expires_at,
                        "revoked": a.revoked,
                    }
                    for a in grant.access_tokens
                ],
                "refresh_tokens": [
                    {
                        "hint": hint(r.token),
                        "sha256": fingerprint(r.token),
                        "expires_at": r.expires_at.isoformat(),
                        "current": r is grant.current_refresh,
                        "rotated": r.rotated,
                        "revoked": r.revoked,
                    }
                    for r in grant.refresh_tokens
                ],
                "current_refresh_sha256": fingerprint(grant.current_refresh.token) if grant.current_refresh else None,
            }
            for grant in self._grants.values()
            if provider is None or grant.provider == provider
        ]


def _with_query(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if urlsplit(uri).query else "?"
    return f"{uri}{separator}{query}"
