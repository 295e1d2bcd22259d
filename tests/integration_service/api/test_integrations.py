"""`/api/integrations` over real HTTP: CRUD, secrets kept secret, one user never sees another's."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest
from pydantic import SecretStr

from integration_service.security.encryption import SecretBox
from integration_service.settings import DEVELOPMENT_ENCRYPTION_KEY
from tests.fixtures.service import ApiUser, RunningService

pytestmark = pytest.mark.db

CANARY_KEY = "sk_test_canary" + "A1b2C3d4E5f6G7h8"
CANARY_SECRET = "canary-secret-" + uuid.uuid4().hex


def create(user: ApiUser, **fields: object) -> dict[str, object]:
    body = {"integrationType": "STRIPE", "integrationName": f"main-{uuid.uuid4().hex[:6]}", **fields}
    response = user.client.post("/api/integrations", json=body)
    assert response.status_code == 201, response.text
    integration: dict[str, object] = response.json()["integration"]
    return integration


def test_create_then_read_list_update_delete(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    created = create(user, integrationType="xero", customData={"tenantId": "t-1"})
    assert created["integrationType"] == "XERO"
    assert created["customData"] == {"tenantId": "t-1"}
    assert created["isActive"] is True
    assert created["syncStatus"] == "IDLE"

    assert user.client.get(f"/api/integrations/{created['id']}").json()["integration"] == created
    listed = user.client.get("/api/integrations").json()
    assert listed["total"] == 1
    assert [item["id"] for item in listed["integrations"]] == [created["id"]]

    disabled = user.client.patch(f"/api/integrations/{created['id']}", json={"isActive": False})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["integration"]["isActive"] is False

    assert user.client.delete(f"/api/integrations/{created['id']}").status_code == 204
    assert user.client.get(f"/api/integrations/{created['id']}").status_code == 404


def test_secrets_never_leave_the_service_in_plain_text(
    make_user: Callable[[], ApiUser], service: RunningService, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    user = make_user()
    log_before = len(service.log_text())
    response = user.client.post(
        "/api/integrations",
        json={
            "integrationType": "STRIPE",
            "integrationName": "leak-check",
            "apiKey": CANARY_KEY,
            "apiSecret": CANARY_SECRET,
        },
    )
    assert response.status_code == 201
    for secret in (CANARY_KEY, CANARY_SECRET):
        assert secret not in response.text
    integration = response.json()["integration"]
    assert integration["hasApiKey"] is True
    assert integration["hasApiSecret"] is True
    assert integration["hasAccessToken"] is False
    listed = user.client.get("/api/integrations").text
    assert CANARY_KEY not in listed
    assert CANARY_SECRET not in listed

    request_logs = service.log_text()[log_before:]
    assert CANARY_KEY not in request_logs
    assert CANARY_SECRET not in request_logs

    row = sql.execute(
        "SELECT row_to_json(c)::text, api_key_encrypted, api_secret_encrypted "
        "FROM integrations_credentials c WHERE id = %s",
        [integration["id"]],
    ).fetchone()
    assert row is not None
    whole_row, key_ciphertext, secret_ciphertext = row
    assert CANARY_KEY not in str(whole_row)
    assert CANARY_SECRET not in str(whole_row)
    box = SecretBox([SecretStr(DEVELOPMENT_ENCRYPTION_KEY)])
    assert box.decrypt(str(key_ciphertext)) == CANARY_KEY
    assert box.decrypt(str(secret_ciphertext)) == CANARY_SECRET


def test_a_secret_in_invalid_input_is_not_echoed(make_user: Callable[[], ApiUser], service: RunningService) -> None:
    user = make_user()
    response = user.client.post(
        "/api/integrations",
        json={
            "integrationType": "NOT-A-PROVIDER",
            "integrationName": "x",
            "apiKey": CANARY_KEY,
            "apiSecret": {"nested": CANARY_SECRET},
        },
    )
    assert response.status_code == 422
    assert CANARY_KEY not in response.text
    assert CANARY_SECRET not in response.text
    assert CANARY_SECRET not in service.log_text()


def test_patch_replaces_and_removes_secrets(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    created = create(user, apiKey="first-key", apiSecret="first-secret")
    patched = user.client.patch(f"/api/integrations/{created['id']}", json={"apiKey": "second-key", "apiSecret": None})
    assert patched.status_code == 200, patched.text
    integration = patched.json()["integration"]
    assert integration["hasApiKey"] is True
    assert integration["hasApiSecret"] is False
    assert "second-key" not in patched.text


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"isActive": False}), ("DELETE", None)],
)
def test_another_users_integration_is_not_found(
    make_user: Callable[[], ApiUser], method: str, body: dict[str, object] | None
) -> None:
    owner, stranger = make_user(), make_user()
    integration = create(owner)
    response = stranger.client.request(method, f"/api/integrations/{integration['id']}", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # Identical to an id that does not exist at all: nothing confirms the integration is there.
    missing = stranger.client.request(method, f"/api/integrations/{uuid.uuid4()}", json=body)
    assert missing.status_code == 404
    assert owner.client.get(f"/api/integrations/{integration['id']}").json()["integration"]["isActive"] is True


def test_list_shows_only_the_callers_integrations(make_user: Callable[[], ApiUser]) -> None:
    owner, stranger = make_user(), make_user()
    create(owner)
    create(owner)
    assert owner.client.get("/api/integrations").json()["total"] == 2
    assert stranger.client.get("/api/integrations").json() == {
        "integrations": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }


def test_list_is_paginated(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    ids = [create(user)["id"] for _ in range(5)]
    first = user.client.get("/api/integrations", params={"limit": 2}).json()
    rest = user.client.get("/api/integrations", params={"limit": 10, "offset": 2}).json()
    assert first["total"] == rest["total"] == 5
    assert [item["id"] for item in first["integrations"] + rest["integrations"]] == ids


def test_the_same_name_twice_is_a_conflict(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    create(user, integrationName="books")
    again = user.client.post("/api/integrations", json={"integrationType": "STRIPE", "integrationName": "books"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    # Another user may use the same name.
    create(make_user(), integrationName="books")


def test_custom_data_refuses_secrets(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    response = user.client.post(
        "/api/integrations",
        json={"integrationType": "MYOB", "integrationName": "m", "customData": {"password": "hunter2"}},
    )
    assert response.status_code == 422
    assert "hunter2" not in response.text
    assert "customData" in response.text
