"""Mautic (self-hosted marketing automation): OAuth 2.0 authorization code, campaigns and segments.

One instance per service (`MAUTIC_BASE_URL`), its OAuth 2 app in `MAUTIC_CLIENT_ID/_SECRET`. Access
tokens last an hour and refresh tokens ROTATE (the used one dies), which TokenManager handles.
Listings page with `start`/`limit` and key their items BY ID in an object (`{"total": 550,
"campaigns": {"7": {...}}}`); an empty page is a JSON list `[]`, as PHP encodes an empty array.
Errors are `{"errors": [{"message", "code"}]}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from integration_service.db.schema import mautic_campaigns
from integration_service.providers.base import OAuthApp, OAuthProvider, ProviderApi, Record, RecordSet
from integration_service.providers.errors import ProviderResponseError
from integration_service.providers.session import ProviderSession

PAGE_SIZE = 100


def _timestamp(value: object) -> datetime | None:
    """Mautic's ISO 8601 dates (with an offset; a bare one is the server's UTC)."""
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace(" ", "T").replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _category(value: object) -> str | None:
    if isinstance(value, dict):
        return str(value.get("title") or value.get("alias") or value.get("id") or "") or None
    return None if value in (None, "") else str(value)


def _campaign_row(record: Record, _custom_data: Mapping[str, Any]) -> Record:
    return {
        "mautic_campaign_id": str(record["id"]),
        "name": record.get("name"),
        "description": record.get("description"),
        "is_published": record.get("isPublished"),
        "category": _category(record.get("category")),
        "publish_up": _timestamp(record.get("publishUp")),
        "publish_down": _timestamp(record.get("publishDown")),
        "provider_updated_at": _timestamp(record.get("dateModified") or record.get("dateAdded")),
    }


def listed_items(body: object, key: str) -> list[Record]:
    """A listing's items: an object keyed by id, or `[]` for an empty page."""
    if not isinstance(body, dict) or key not in body:
        raise ProviderResponseError(f"a mautic {key} listing has no {key}")
    items = body[key]
    if isinstance(items, dict):
        return list(items.values())
    if isinstance(items, list):
        return items
    raise ProviderResponseError(f"mautic {key} is neither an object nor a list")


def _entity(body: object, key: str) -> Record:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise ProviderResponseError(f"mautic answered without the {key}")
    entity: Record = body[key]
    return entity


class Mautic(OAuthProvider):
    integration_type: ClassVar[str] = "MAUTIC"
    slug: ClassVar[str] = "mautic"

    @property
    def base_url(self) -> str:
        return self.settings.mautic_base_url.rstrip("/")

    def oauth_app(self) -> OAuthApp:
        return OAuthApp(
            client_id=self.settings.mautic_client_id,
            client_secret=self.settings.mautic_client_secret,
            authorize_url=f"{self.base_url}/oauth/v2/authorize",
            token_url=f"{self.base_url}/oauth/v2/token",
            scopes=(),  # Mautic's API has no scopes: the user's role decides
            token_auth_method="client_secret_post",  # noqa: S106 - a method name, not a secret
        )

    def missing_settings(self) -> list[str]:
        return super().missing_settings() + ([] if self.base_url else ["MAUTIC_BASE_URL"])

    def record_sets(self) -> dict[str, RecordSet]:
        return {"campaigns": RecordSet(mautic_campaigns, "mautic_campaign_id", _campaign_row)}

    def connection_details(
        self, api: ProviderApi, callback: Mapping[str, str], requested: Mapping[str, Any]
    ) -> dict[str, Any]:
        self.test_connection(api)  # the new token reads the API: the user's role allows it
        return {"instanceHost": httpx.URL(self.base_url).host}

    def test_connection(self, api: ProviderApi) -> None:
        listed_items(api.get_json(f"{self.base_url}/api/campaigns", params={"limit": 1}), "campaigns")

    def pages(self, api: ProviderApi, data_type: str, modified_since: datetime | None) -> Iterator[list[Record]]:
        """Every campaign in id order (stable while paging); Mautic cannot filter by change time: always full."""
        start = 0
        while True:
            body = api.get_json(
                f"{self.base_url}/api/campaigns",
                params={"start": start, "limit": PAGE_SIZE, "orderBy": "id", "orderByDir": "ASC"},
            )
            records = listed_items(body, "campaigns")
            yield records
            start += len(records)
            if not records or start >= int(body.get("total") or 0):
                return

    def create_campaign(self, api: ProviderSession, fields: Mapping[str, Any]) -> Record:
        body = api.send_json("POST", f"{self.base_url}/api/campaigns/new", body=fields)
        return _campaign_row(_entity(body, "campaign"), {})

    def publish_campaign(self, api: ProviderSession, campaign_id: int, published: bool) -> Record:
        body = api.send_json(
            "PATCH", f"{self.base_url}/api/campaigns/{campaign_id}/edit", body={"isPublished": published}
        )
        return _campaign_row(_entity(body, "campaign"), {})

    def add_to_segment(self, api: ProviderSession, segment_id: int, contact_id: int) -> None:
        body = api.send_json("POST", f"{self.base_url}/api/segments/{segment_id}/contact/{contact_id}/add")
        if not isinstance(body, dict) or not body.get("success"):
            raise ProviderResponseError(f"mautic did not confirm adding contact {contact_id} to segment {segment_id}")

    def error_message(self, response: httpx.Response) -> str:
        try:
            first = response.json()["errors"][0]
            return f"HTTP {response.status_code}: {str(first.get('message', ''))[:200]}"
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return f"HTTP {response.status_code}"
