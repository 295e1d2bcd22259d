"""The service's one settings class, read from the environment (and `.env`).

Stage-aware: `local` accepts development defaults so that a fresh clone runs; `staging` and
`production` refuse to start with development secrets, a missing encryption key, a wildcard CORS
origin or a provider base URL that is not HTTPS.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from integration_service.build import GIT_SHA, UNKNOWN, checkout_sha
from integration_service.security.tls import provider_trust

Stage = Literal["local", "staging", "production"]

# A fixed key for local development only: it is public (it is in this file), so settings refuse it
# outside the local stage. Generate a real one with
# `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
DEVELOPMENT_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcmVhbC11c2U="


# Base URLs of providers that a deployment may leave out (empty = the provider is not offered).
OPTIONAL_BASE_URLS = frozenset({"MAUTIC_BASE_URL"})


# A running sync holds its lock's connection, one more while it stores a page and, at the same time, one
# for a token read while it fetches the next page (sync/ahead.py).
CONNECTIONS_PER_SYNC = 3


class ConfigurationError(ValueError):
    """Settings that must not be used for the chosen stage."""


def web_connection_limit(pool_size: int, overflow: int) -> int:
    """A web process's connections at most: the engine's pool and overflow, the read pool (db/reads.py) of
    pool_size. (The load run judges the service's peak against it; /metrics reports the same as its pool size.)"""
    return 2 * pool_size + overflow


class Settings(BaseSettings):
    # hide_input_in_errors: a rejected value may be a key or a password; errors name the field only.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True)

    stage: Stage = "local"
    database_url: SecretStr = Field(
        default=SecretStr("postgresql://postgres@127.0.0.1:5432/integrations"),
        description="PostgreSQL URL (postgresql:// or postgresql+psycopg://).",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_pool_max_overflow: int = Field(default=10, ge=0, le=200)
    database_pool_timeout_s: float = Field(default=5.0, gt=0)
    redis_url: SecretStr | None = None
    # Everything this service keeps in Redis starts with this prefix, so that a stage's cache can be
    # cleared without touching anyone else's keys on a shared server.
    redis_key_prefix: str = "integrations:local"

    # Comma-separated Fernet keys, newest first: the first encrypts, all of them decrypt (rotation).
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEVELOPMENT_ENCRYPTION_KEY)]
    )

    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["http://localhost:3000"])
    # Per verified user; per client address for everything else (no token, or one that is not valid).
    rate_limit: str = "600/minute"
    webhook_rate_limit: str = "1200/minute"
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Comma-separated addresses or CIDR networks of the reverse proxies in front of the service: only a
    # request from one of them may name its client in X-Forwarded-For. Empty: the header is ignored.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Where providers send the user back after consent: {public_url}/api/integrations/{provider}/callback.
    public_url: str = "http://127.0.0.1:8000"
    oauth_state_ttl_s: int = Field(default=600, ge=60, le=3600)

    # Outbound HTTP: explicit timeouts, bounded retries of 429/5xx/transport errors.
    http_connect_timeout_s: float = Field(default=5.0, gt=0)
    http_read_timeout_s: float = Field(default=30.0, gt=0)
    http_retry_attempts: int = Field(default=6, ge=1, le=20)
    http_retry_total_s: float = Field(default=120.0, gt=0)
    http_retry_initial_wait_s: float = Field(default=0.5, ge=0)
    http_retry_backoff_max_s: float = Field(default=8.0, ge=0)
    http_retry_max_wait_s: float = Field(default=60.0, gt=0)  # a longer Retry-After fails the call instead
    # A PEM file of CAs trusted for provider HTTPS besides the public roots (e.g. the private CA of a
    # stage whose providers are the provider sandbox). Unset: the public roots only.
    provider_ca_bundle: str | None = None
    # Refresh an access token this long before it expires, so no request goes out with a dying one.
    token_refresh_margin_s: int = Field(default=120, ge=0)
    sync_page_batch_size: int = Field(default=500, ge=1, le=5000)
    # Syncs one process runs at once; more are answered 503 + Retry-After. Each run holds up to
    # CONNECTIONS_PER_SYNC pooled connections, so this stays well below the pool: other requests keep theirs.
    sync_max_concurrent: int = Field(default=4, ge=1, le=100)
    # A `running` sync whose heartbeat is older than this is closed as interrupted (it died or hangs).
    sync_stale_after_s: int = Field(default=300, ge=1, le=86_400)
    # Syncs run as jobs on workers (jobs/, `invoke worker`). POST /api/integrations/sync waits this long for
    # its job, then answers 202 with the sync log to read; 0 answers 202 at once.
    sync_wait_s: float = Field(default=25.0, ge=0, le=120)
    # The queue this service's syncs go to and its workers take them from: one per deployment (the default);
    # the harness gives a service started with settings of its own a queue of its own.
    sync_queue: str = Field(default="syncs", pattern=r"^[a-z0-9_-]{1,60}$")
    # Scheduled syncs: every active integration syncs this often (customData.syncIntervalMinutes overrides it
    # per integration), jittered by up to a tenth; failures in a row double the wait, and after
    # SYNC_PAUSE_AFTER_FAILURES of them the integration is paused (sync_status ERROR, the reason in sync_error).
    sync_interval_s: int = Field(default=3600, ge=1, le=7 * 86_400)
    sync_pause_after_failures: int = Field(default=5, ge=1, le=100)
    # How often a worker looks for due integrations and for jobs of dead workers (seconds, a cron field).
    sync_schedule_tick_s: int = Field(default=30, ge=1, le=59)
    # A worker silent this long is dead: its running jobs are retried by another worker.
    worker_stalled_after_s: int = Field(default=30, ge=3, le=3600)

    # OAuth apps registered at each provider (see INTEGRATIONS.md). Base URLs default to the real APIs;
    # the local stage points them at the provider sandbox.
    xero_client_id: str = ""
    xero_client_secret: SecretStr = SecretStr("")
    xero_login_base_url: str = "https://login.xero.com"
    xero_identity_base_url: str = "https://identity.xero.com"
    xero_api_base_url: str = "https://api.xero.com"
    myob_client_id: str = ""
    myob_client_secret: SecretStr = SecretStr("")
    myob_secure_base_url: str = "https://secure.myob.com"
    myob_api_base_url: str = "https://api.myob.com"
    quickbooks_client_id: str = ""
    quickbooks_client_secret: SecretStr = SecretStr("")
    quickbooks_appcenter_base_url: str = "https://appcenter.intuit.com"
    quickbooks_oauth_base_url: str = "https://oauth.platform.intuit.com"
    quickbooks_api_base_url: str = "https://quickbooks.api.intuit.com"

    # Stripe: each STRIPE integration carries its account's secret key (apiKey). Webhooks arrive at one
    # endpoint, signed with the endpoint's secret; several are accepted while one is being rotated.
    stripe_api_base_url: str = "https://api.stripe.com"
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    stripe_webhook_tolerance_s: int = Field(default=300, ge=1, le=3600)

    # PayPal: each PAYPAL integration carries its REST app's client id (apiKey) and secret (apiSecret).
    paypal_mode: Literal["sandbox", "live"] = "sandbox"
    paypal_sandbox_base_url: str = "https://api-m.sandbox.paypal.com"
    paypal_live_base_url: str = "https://api-m.paypal.com"
    paypal_webhook_id: str = ""
    # Webhook signing certificates are fetched only from URLs under these prefixes (PayPal's own).
    paypal_cert_url_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "https://api.paypal.com/v1/notifications/certs/",
            "https://api.sandbox.paypal.com/v1/notifications/certs/",
        ]
    )
    paypal_webhook_tolerance_s: int = Field(default=300, ge=1, le=3600)

    # Mautic is self-hosted: the service connects to ONE instance (its OAuth 2 app and its URL, without
    # /api). Empty base URL: Mautic is not offered (connecting answers 503). BillionMail needs nothing
    # here: each BILLIONMAIL integration names its own instance (customData.baseUrl) and key (apiKey).
    mautic_client_id: str = ""
    mautic_client_secret: SecretStr = SecretStr("")
    mautic_base_url: str = ""

    # Networks a user-supplied URL (BillionMail's customData.baseUrl) may reach although they are private,
    # loopback or otherwise internal (security/outbound.py), e.g. a staging drill's provider sandbox on
    # 127.0.0.1. Comma-separated CIDRs; empty = none (the local stage always allows loopback).
    outbound_allowed_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(default_factory=list)
    # The git commit this build runs, shown by `GET /api/version` (the harness waits for it after a
    # deploy). Unset: HEAD of the git checkout the package was imported from, else "unknown".
    build_sha: str = Field(default_factory=checkout_sha)

    @field_validator(
        "encryption_keys",
        "cors_allowed_origins",
        "stripe_webhook_secrets",
        "paypal_cert_url_prefixes",
        "trusted_proxies",
        mode="before",
    )
    @classmethod
    def _split_comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("outbound_allowed_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return [ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
        except ValueError as exc:
            raise ValueError(f"OUTBOUND_ALLOWED_NETWORKS must be comma-separated CIDRs: {exc}") from None

    @field_validator("encryption_keys")
    @classmethod
    def _keys_are_fernet_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        if not keys:
            raise ValueError("ENCRYPTION_KEYS must hold at least one Fernet key")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.get_secret_value())
            except ValueError:
                # Never echo the key itself: only its position in the list.
                raise ValueError(
                    f"ENCRYPTION_KEYS entry {position} is not a valid Fernet key (32 url-safe base64-encoded bytes)"
                ) from None
        return keys

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                # '*' included: trusting everyone would let any client choose its own rate-limit bucket.
                raise ValueError(f"TRUSTED_PROXIES entry {proxy!r} is not an IP address or CIDR network") from None
        return proxies

    @model_validator(mode="after")
    def _syncs_leave_connections_for_requests(self) -> Settings:
        pool = self.database_pool_size + self.database_pool_max_overflow
        if self.sync_max_concurrent * CONNECTIONS_PER_SYNC >= pool:
            raise ConfigurationError(
                f"SYNC_MAX_CONCURRENT={self.sync_max_concurrent} syncs hold up to "
                f"{self.sync_max_concurrent * CONNECTIONS_PER_SYNC} database connections, which leaves none of the "
                f"pool's {pool} (DATABASE_POOL_SIZE + DATABASE_POOL_MAX_OVERFLOW) for other requests: lower it"
            )
        return self

    @field_validator("build_sha")
    @classmethod
    def _build_sha_is_a_commit(cls, value: str) -> str:
        sha = value.strip().lower()
        if sha != UNKNOWN and not GIT_SHA.fullmatch(sha):
            raise ValueError("BUILD_SHA must be a full 40-character git commit sha, or 'unknown'")
        return sha

    @field_validator("provider_ca_bundle")
    @classmethod
    def _ca_bundle_is_usable(cls, path: str | None) -> str | None:
        path = path.strip() if path else None
        provider_trust(path or None)  # refuses to start on a bundle every provider call would fail with
        return path or None

    @model_validator(mode="after")
    def _refuse_unsafe_outside_local(self) -> Settings:
        if self.stage == "local":
            return self
        problems = [problem for _, problem in self.unsafe_outside_local()]
        if problems:
            raise ConfigurationError(f"refusing to start in stage {self.stage!r}: " + "; ".join(problems))
        return self

    def unsafe_outside_local(self) -> list[tuple[str, str]]:
        """(setting name, problem) for each rule staging and production enforce; `GET /api/config-check`
        reports the same rules. Problems name settings, never their values."""
        problems: list[tuple[str, str]] = []
        if any(key.get_secret_value() == DEVELOPMENT_ENCRYPTION_KEY for key in self.encryption_keys):
            problems.append(("ENCRYPTION_KEYS", "ENCRYPTION_KEYS contains the public development key"))
        if "*" in self.cors_allowed_origins:
            problems.append(("CORS_ALLOWED_ORIGINS", "CORS_ALLOWED_ORIGINS must list origins explicitly, not '*'"))
        for name, url in {**self.provider_base_urls(), "PUBLIC_URL": self.public_url}.items():
            if not url.startswith("https://") and not (name in OPTIONAL_BASE_URLS and url == ""):
                problems.append((name, f"{name} must be an https:// URL"))
        if self.paypal_mode == "live" and not self.paypal_webhook_id:
            why = "live events cannot be verified without it"
            problems.append(("PAYPAL_WEBHOOK_ID", f"PAYPAL_MODE=live needs PAYPAL_WEBHOOK_ID ({why})"))
        return problems

    def provider_base_urls(self) -> dict[str, str]:
        """Every outbound base URL (each setting named `*_base_url`), by environment variable name."""
        return {
            name.upper(): str(getattr(self, name)) for name in type(self).model_fields if name.endswith("_base_url")
        }

    @property
    def paypal_base_url(self) -> str:
        return self.paypal_live_base_url if self.paypal_mode == "live" else self.paypal_sandbox_base_url

    @cached_property
    def sqlalchemy_database_url(self) -> str:
        return sqlalchemy_url(self.database_url.get_secret_value())


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ConfigurationError("DATABASE_URL must start with postgresql://")
