"""Fuzzing findings pinned down: credentials must be able to travel in a header, booleans are booleans."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.service import ApiUser

pytestmark = pytest.mark.db


@pytest.mark.parametrize("credential", ["tök€n", "two words", "line\r\nX-Injected: 1", "tab\there"])
def test_credentials_that_could_not_go_in_a_header_are_refused(
    make_user: Callable[[], ApiUser], credential: str
) -> None:
    response = make_user().client.post(
        "/api/integrations", json={"integrationType": "XERO", "integrationName": "x", "accessToken": credential}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.accessToken"
    assert credential not in response.text


@pytest.mark.parametrize("flag", ["true", "yes", 1, 0])
def test_is_active_takes_only_json_booleans(make_user: Callable[[], ApiUser], flag: object) -> None:
    user = make_user()
    created = user.client.post("/api/integrations", json={"integrationType": "XERO", "integrationName": "x"})
    response = user.client.patch(f"/api/integrations/{created.json()['integration']['id']}", json={"isActive": flag})
    assert response.status_code == 422
