"""The list writes its rows straight to JSON (issue 16): byte for byte what the IntegrationList model writes,
for every kind of value a stored row can hold."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from integration_service.api.integrations import IntegrationList, IntegrationPublic, listed_json
from integration_service.db.engine import UnreadableJson

_versions = itertools.count(81234)
WRITTEN = datetime(2026, 12, 4, 17, 0, 31, 632053, tzinfo=UTC)


def stored_row(**changes: Any) -> dict[str, Any]:
    """A row as db/reads.py reads it: PUBLIC_COLUMNS, `version` (its xmin, never shown) included."""
    row = {
        "version": str(next(_versions)),
        "id": uuid.uuid4(),
        "integration_type": "XERO",
        "integration_name": "Demo Company (AU) — ünïcode",
        "is_active": True,
        "sync_status": "idle",
        "sync_error": None,
        "last_synced_at": WRITTEN,
        "token_expires_at": None,
        "custom_data": {"tenantId": "t-1", "nested": {"list": [1, 2.5, None, True, "x"]}},
        "has_access_token": True,
        "has_refresh_token": False,
        "has_api_key": False,
        "has_api_secret": False,
        "created_at": WRITTEN,
        "updated_at": WRITTEN,
    }
    return {**row, **changes}


def as_the_model_writes(rows: list[dict[str, Any]], total: int, limit: int, offset: int) -> bytes:
    page = IntegrationList(
        integrations=[IntegrationPublic.model_validate(row) for row in rows], total=total, limit=limit, offset=offset
    )
    return page.model_dump_json(by_alias=True).encode()


ROWS = {
    "plain": stored_row(),
    "times-in-other-zones": stored_row(
        last_synced_at=WRITTEN.astimezone(timezone(timedelta(hours=10))),
        token_expires_at=WRITTEN.astimezone(ZoneInfo("America/New_York")),
        updated_at=WRITTEN.replace(microsecond=0),
    ),
    "a-sync-error-holding-a-secret": stored_row(
        sync_status="failed", sync_error="401 from https://api.example?access_token=abc123secret&x=1"
    ),
    "custom-data-with-a-secret-stored-by-an-older-version": stored_row(custom_data={"x": {"password": "hunter2"}}),
    "custom-data-too-deep-to-parse": stored_row(custom_data=UnreadableJson()),
    "custom-data-null": stored_row(custom_data=None),
    "custom-data-not-an-object": stored_row(custom_data=["tenant-1"]),
    "custom-data-a-string": stored_row(custom_data="x"),
    "custom-data-a-number": stored_row(custom_data=42),
    # jsonb keeps a number exactly; one beyond a float's range reads back as inf, which JSON cannot write.
    "custom-data-with-a-number-beyond-a-float": stored_row(custom_data={"limit": float("inf")}),
    "api-key-provider": stored_row(integration_type="MAUTIC", has_access_token=False, has_api_key=True),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_a_listed_row_is_written_exactly_as_the_model_writes_it(name: str) -> None:
    rows = [ROWS[name]]
    assert listed_json([dict(row) for row in rows], 7, 50, 5) == as_the_model_writes(rows, 7, 50, 5)


def test_a_page_of_every_kind_and_an_empty_page_are_written_as_the_model_writes_them() -> None:
    rows = list(ROWS.values())
    assert listed_json([dict(row) for row in rows], 12, 200, 0) == as_the_model_writes(rows, 12, 200, 0)
    assert listed_json([], 0, 50, 0) == as_the_model_writes([], 0, 50, 0)


def test_what_the_list_must_not_show_is_not_written() -> None:
    """The row version, a secret in a sync error or in customData an older version stored."""
    shown = [ROWS["a-sync-error-holding-a-secret"], ROWS["custom-data-with-a-secret-stored-by-an-older-version"]]
    written = listed_json([dict(row) for row in shown], 2, 50, 0).decode()
    assert "abc123secret" not in written
    assert "hunter2" not in written
    assert f'"{shown[0]["version"]}"' not in written
    assert "version" not in written


def test_a_new_version_of_a_row_is_checked_again() -> None:
    """The list remembers each row version's verdict on its customData; a write makes a new version."""
    first = stored_row()
    assert b'"tenantId":"t-1"' in listed_json([dict(first)], 1, 50, 0)
    rewritten = {**first, "version": str(next(_versions)), "custom_data": {"x": {"password": "hunter2"}}}
    assert b"hunter2" not in listed_json([dict(rewritten)], 1, 50, 0)
    cleaned = {**rewritten, "version": str(next(_versions)), "custom_data": {"tenantId": "t-2"}}
    assert b'"tenantId":"t-2"' in listed_json([dict(cleaned)], 1, 50, 0)
