"""Mautic's wire format: request bodies, field validation, listings and the errors list.

Validation failures answer 400 `{"errors": [{"message": "field: problem", "code": 400, "type":
null, "details": {field: [problem]}}]}` as Mautic's form-error handling does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.providers.mautic.store import Campaign, MauticInstance

DEFAULT_LIMIT = 30  # listings page size when the request gives no `limit`
NOT_FOUND = "Item was not found."
_CAMPAIGN_FIELDS = {"name", "description", "isPublished", "publishUp", "publishDown", "allowRestart", "lists"}
_IGNORED_FIELDS = {"events", "forms", "canvasSettings", "category", "id"}  # accepted, not simulated


class MauticApiError(Exception):
    def __init__(self, status: int, message: str, details: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "code": self.status, "type": None}
        if self.details:
            error["details"] = self.details
        return json_response({"errors": [error]}, self.status)


def invalid(field: str, problem: str) -> MauticApiError:
    return MauticApiError(400, f"{field}: {problem}", {field: [problem]})


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    if "json" in request.headers.get("content-type", "") or raw.lstrip()[:1] == b"{":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise MauticApiError(400, "Request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise MauticApiError(400, "Request body must be a JSON object.")
        return data
    body: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True):
        if key.endswith("[]"):
            body.setdefault(key[:-2], []).append(value)
        else:
            body[key] = value
    return body


def as_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (1, 0, "1", "0", "true", "false"):
        return value in (1, "1", "true")
    raise invalid(field, "This value is not valid.")


def as_date(field: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace(" ", "T")).isoformat(timespec="seconds")
    except ValueError:
        raise invalid(field, "This value is not a valid datetime.") from None


def entity_id(raw: str) -> int:
    if not raw.isdigit():
        raise MauticApiError(404, NOT_FOUND)
    return int(raw)


def listing(
    key: str, items: list[tuple[int, dict[str, Any]]], request: Request, total_as_text: bool = False
) -> Response:
    """Mautic's paged listing: items keyed by id in an object; `[]` when the page is empty."""
    params = request.query_params
    start = int(params["start"]) if params.get("start", "").isdigit() else 0
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else DEFAULT_LIMIT
    page = items[start : start + limit] if limit else items[start:]
    body: Any = {str(item_id): item for item_id, item in page} or []
    return json_response({"total": str(len(items)) if total_as_text else len(items), key: body})


def ordered(request: Request, records: list[Any], fields: dict[str, Callable[[Any], Any]]) -> list[Any]:
    order_by = request.query_params.get("orderBy", "id")
    if order_by not in fields:
        raise MauticApiError(400, f"orderBy: '{order_by}' is not a sortable column ({', '.join(sorted(fields))}).")
    descending = request.query_params.get("orderByDir", "ASC").upper() == "DESC"
    return sorted(records, key=fields[order_by], reverse=descending)


def apply_campaign(instance: MauticInstance, campaign: Campaign, data: dict[str, Any]) -> None:
    unknown = set(data) - _CAMPAIGN_FIELDS - _IGNORED_FIELDS
    if unknown:
        raise MauticApiError(400, f"This form should not contain extra fields: {', '.join(sorted(unknown))}.")
    if "name" in data:
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise invalid("name", "A value is required.")
        campaign.name = data["name"].strip()
    if "description" in data:
        campaign.description = str(data["description"] or "")
    if "isPublished" in data:
        campaign.is_published = as_bool("isPublished", data["isPublished"])
    if "allowRestart" in data:
        campaign.allow_restart = as_bool("allowRestart", data["allowRestart"])
    if "publishUp" in data:
        campaign.publish_up = as_date("publishUp", data["publishUp"])
    if "publishDown" in data:
        campaign.publish_down = as_date("publishDown", data["publishDown"])
    if "lists" in data:
        raw = data["lists"] if isinstance(data["lists"], list) else [data["lists"]]
        ids = [item.get("id") if isinstance(item, dict) else item for item in raw]
        if not all(str(i).isdigit() and int(str(i)) in instance.segments for i in ids):
            raise invalid("lists", "This value is not valid.")
        campaign.segment_ids = sorted({int(str(i)) for i in ids})
