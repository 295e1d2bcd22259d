"""customData's limits over real HTTP: checked before anything is stored, at any depth, and a value an
older version stored can never make a read fail (nor come back holding a secret)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from integration_service.api.models import MAX_CUSTOM_DATA_DEPTH
from tests.fixtures.service import ApiUser

pytestmark = pytest.mark.db

INTEGRATIONS = "/api/integrations"


def nested(levels: int) -> str:
    """customData `levels` objects deep, as JSON text (the client's own encoder would give up first)."""
    return '{"n":' * (levels - 1) + '{"leaf":1}' + "}" * (levels - 1)


def body(custom_data_json: str, **fields: str) -> str:
    head = json.dumps({"integrationType": "XERO", "integrationName": f"deep-{uuid.uuid4().hex[:6]}", **fields})
    return head[:-1] + f', "customData": {custom_data_json}}}'


def post_raw(user: ApiUser, text: str) -> Any:
    return user.client.post(INTEGRATIONS, content=text, headers={"Content-Type": "application/json"})


def problems(response: Any) -> str:
    return " ".join(detail["message"] for detail in response.json()["error"]["details"] or [])


def test_the_depth_limit_is_exact(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    assert post_raw(user, body(nested(MAX_CUSTOM_DATA_DEPTH))).status_code == 201
    refused = post_raw(user, body(nested(MAX_CUSTOM_DATA_DEPTH + 1)))
    assert refused.status_code == 422, refused.text
    assert f"deeper than {MAX_CUSTOM_DATA_DEPTH} levels" in problems(refused)
    assert refused.json()["error"]["details"][0]["field"] == "body.customData"


@pytest.mark.parametrize("levels", [300, 900, 5000])
def test_deep_custom_data_is_refused_and_nothing_is_stored(make_user: Callable[[], ApiUser], levels: int) -> None:
    user = make_user()
    created = post_raw(user, body(nested(levels)))
    assert 400 <= created.status_code < 500, created.text[:300]
    # Past ~1000 levels the body's JSON parser gives up first: a 400, still before anything is stored.
    assert created.json()["error"]["code"] in {"validation_failed", "malformed_json", "bad_request"}
    listed = user.client.get(INTEGRATIONS)
    assert listed.status_code == 200
    assert listed.json()["total"] == 0

    existing = user.client.post(INTEGRATIONS, json={"integrationType": "XERO", "integrationName": "flat"}).json()
    path = f"{INTEGRATIONS}/{existing['integration']['id']}"
    patched = user.client.patch(
        path, content='{"customData": ' + nested(levels) + "}", headers={"Content-Type": "application/json"}
    )
    assert 400 <= patched.status_code < 500, patched.text[:300]
    assert user.client.get(path).json()["integration"]["customData"] == {}


@pytest.mark.parametrize(
    ("custom_data", "path"),
    [
        ({"x": {"password": "hunter2-nested", "apiKey": "k-nested"}}, "customData.x.password"),
        ({"accounts": [{"label": "a"}, {"clientSecret": "hunter2-nested"}]}, "customData.accounts[1].clientSecret"),
        ({"a": {"b": {"c": {"refresh_token": "hunter2-nested"}}}}, "customData.a.b.c.refresh_token"),
    ],
)
def test_secrets_at_any_depth_are_refused_naming_their_path(
    make_user: Callable[[], ApiUser], custom_data: dict[str, Any], path: str
) -> None:
    user = make_user()
    refused = user.client.post(
        INTEGRATIONS, json={"integrationType": "MYOB", "integrationName": "m", "customData": custom_data}
    )
    assert refused.status_code == 422, refused.text
    assert path in problems(refused)
    assert "hunter2-nested" not in refused.text
    assert user.client.get(INTEGRATIONS).json()["total"] == 0
    existing = user.client.post(INTEGRATIONS, json={"integrationType": "MYOB", "integrationName": "m"}).json()
    patched = user.client.patch(f"{INTEGRATIONS}/{existing['integration']['id']}", json={"customData": custom_data})
    assert patched.status_code == 422, patched.text
    assert path in problems(patched)


def _store_as_an_older_version_did(sql: psycopg.Connection[tuple[object, ...]], user: ApiUser, value: str) -> str:
    row = sql.execute(
        "INSERT INTO integrations_credentials (user_id, integration_type, integration_name, custom_data) "
        "SELECT id, 'XERO', %s, %s::jsonb FROM users WHERE name = %s RETURNING id::text",
        [f"old-{uuid.uuid4().hex[:6]}", value, user.name],
    ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(nested(300), id="deeper-than-the-serialiser-goes"),
        pytest.param(nested(3000), id="deeper-than-the-json-parser-goes"),
        pytest.param('{"x": {"password": "hunter2-stored"}}', id="a-nested-secret"),
        pytest.param(json.dumps({"note": "x" * 20_000}), id="too-large"),
        pytest.param('["tenant-1"]', id="not-an-object"),
        pytest.param("42", id="a-number"),
    ],
)
def test_a_value_an_older_version_stored_never_breaks_a_read(
    make_user: Callable[[], ApiUser], sql: psycopg.Connection[tuple[object, ...]], stored: str
) -> None:
    user = make_user()
    integration_id = _store_as_an_older_version_did(sql, user, stored)
    path = f"{INTEGRATIONS}/{integration_id}"

    read = user.client.get(path)
    assert read.status_code == 200, read.text[:300]
    assert read.json()["integration"]["customData"] is None
    assert "hunter2-stored" not in read.text
    listed = user.client.get(INTEGRATIONS)
    assert listed.status_code == 200, listed.text[:300]
    assert [item["customData"] for item in listed.json()["integrations"]] == [None]
    renamed = user.client.patch(path, json={"integrationName": "renamed"})
    assert renamed.status_code == 200, renamed.text[:300]
    assert renamed.json()["integration"]["customData"] is None

    replaced = user.client.patch(path, json={"customData": {"tenantId": "t-1"}})
    assert replaced.status_code == 200, replaced.text[:300]
    assert user.client.get(path).json()["integration"]["customData"] == {"tenantId": "t-1"}
