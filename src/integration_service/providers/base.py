"""The interface every accounting provider implements, and what it is handed to do its work."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import SecretStr
from sqlalchemy import Table

from integration_service.providers.errors import ConnectionTestUnsupported, ProviderRequestError
from integration_service.providers.http import default_is_retryable
from integration_service.settings import Settings

Record = dict[str, Any]
ApiT = TypeVar("ApiT")  # what a provider calls its API through: a session, or its own client


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth 2.0 client registered at the provider, and the provider's endpoints."""

    client_id: str
    client_secret: SecretStr
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    token_auth_method: str = "client_secret_basic"  # noqa: S105 - a method name, not a secret


@dataclass(frozen=True)
class RecordSet:
    """One kind of record a provider syncs: where it is stored and how a provider record maps to a row."""

    table: Table
    key: str  # the column holding the provider's id: the upsert's conflict target with integration_id
    to_row: Callable[[Record, Mapping[str, Any]], Record]  # (provider record, custom_data) -> row


@dataclass
class Linked:
    """One connected integration, as a provider call needs it."""

    integration_id: uuid.UUID | None
    user_id: str
    custom_data: dict[str, Any] = field(default_factory=dict)


class ProviderApi(ABC):
    """Authenticated, retrying calls to a provider's API for one integration (see session.py)."""

    linked: Linked

    @abstractmethod
    def get_json(
        self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any: ...


class SyncProvider(ABC, Generic[ApiT]):
    """A provider whose records the sync engine pages through and stores, calling its API through an `ApiT`."""

    integration_type: ClassVar[str]  # as stored in integrations_credentials.integration_type
    slug: ClassVar[str]  # as it appears in URLs: /api/integrations/{slug}/...

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def record_sets(self) -> dict[str, RecordSet]:
        """The data types this provider syncs (`invoices`, `payments`, ...), by name."""

    @abstractmethod
    def pages(self, api: ApiT, data_type: str, modified_since: datetime | None) -> Iterator[list[Record]]:
        """Every page of records, following the provider's own pagination until it says there is no more.

        `api` is what `OAuthProvider` sessions or `ApiKeyProvider.client` give this provider.
        """

    def test_connection(self, api: ApiT) -> None:
        """One cheap authenticated call proving the connection works; a `ProviderError` when it does not.

        `POST /api/integrations/{id}/test` calls it, and so does creating an API-key integration (where
        "not supported" skips the test). Override it in each provider.
        """
        raise ConnectionTestUnsupported(f"{self.slug} integrations have no connection test yet")


@dataclass(frozen=True)
class ApiCredentials:
    """An API-key integration's decrypted credentials: held only while a call needs them."""

    api_key: str
    api_secret: str | None


class ApiKeyProvider(SyncProvider[ApiT]):
    """A provider the user connects by handing over API credentials (apiKey, apiSecret)."""

    @abstractmethod
    def client(self, linked: Linked, credentials: ApiCredentials, http: httpx.Client) -> ApiT:
        """What `pages` and the provider's actions call the API through, for one integration."""

    def check_custom_data(self, custom_data: Mapping[str, Any]) -> dict[str, Any]:
        """A new integration's customData, checked and normalised; `ProviderRequestError` names the problem."""
        return dict(custom_data)


class OAuthProvider(SyncProvider[ProviderApi]):
    """A provider the user connects through OAuth 2.0 (connect / callback, refreshed tokens)."""

    @abstractmethod
    def oauth_app(self) -> OAuthApp: ...

    def missing_settings(self) -> list[str]:
        """Settings this provider needs that are unset: connecting answers 503 naming them."""
        app = self.oauth_app()
        if app.client_id and app.client_secret.get_secret_value():
            return []
        return [f"{self.slug.upper()}_CLIENT_ID", f"{self.slug.upper()}_CLIENT_SECRET"]

    def authorize_params(self) -> dict[str, str]:
        """Extra query parameters of the authorization request."""
        return {}

    @abstractmethod
    def connection_details(
        self, api: ProviderApi, callback: Mapping[str, str], requested: Mapping[str, Any]
    ) -> dict[str, Any]:
        """After consent: which tenant / company file / realm this connection uses (into custom_data)."""

    def api_headers(self, custom_data: Mapping[str, Any]) -> dict[str, str]:
        """Headers every API call of this integration needs besides Authorization."""
        return {"Accept": "application/json"}

    def is_retryable(self, response: httpx.Response) -> bool:
        return default_is_retryable(response)

    def error_message(self, response: httpx.Response) -> str:
        """A short, secret-free description of an error answer, in the provider's own words."""
        return f"HTTP {response.status_code}"


def choose_one(requested: str | None, options: Mapping[str, str], what: str) -> str:
    """The id the user asked for, or the only one there is; otherwise a clear error listing the choices."""
    if requested is not None:
        if requested not in options:
            raise ProviderRequestError(f"{what} {requested!r} is not available to this connection")
        return requested
    if len(options) == 1:
        return next(iter(options))
    listed = ", ".join(f"{key} ({name})" for key, name in options.items()) or "none"
    raise ProviderRequestError(f"choose a {what} when connecting; available: {listed}")
