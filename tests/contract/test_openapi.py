"""The OpenAPI schema is worth fuzzing: every operation is named, summarised, typed, and documents its
errors and its security. Read from the app itself (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from integration_service.app import create_app
from integration_service.settings import Settings

METHODS = {"get", "post", "put", "patch", "delete"}
# No API token needed:
PUBLIC = {"getHealth", "getVersion", "receiveStripeWebhook", "receivePayPalWebhook", "completeConnection"}
# Webhook bodies are verified as raw bytes (the signature covers them) and parsed afterwards.
RAW_BODY = {"receiveStripeWebhook", "receivePayPalWebhook"}
NO_BODY_RESPONSES = {"204", "302"}
RATE_LIMIT_EXEMPT = {"getHealth"}  # load balancers poll it


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = create_app(Settings(stage="local", database_url="postgresql://nobody@127.0.0.1:1/none")).openapi()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


OPERATIONS = operations()


def ids(entry: tuple[str, str, dict[str, Any]]) -> str:
    return f"{entry[0]} {entry[1]}"


def test_every_operation_id_is_unique() -> None:
    names = [operation["operationId"] for _, _, operation in OPERATIONS]
    assert len(names) == len(set(names))
    assert len(names) >= 30


@pytest.mark.parametrize("entry", OPERATIONS, ids=[ids(entry) for entry in OPERATIONS])
def test_operation_is_documented(entry: tuple[str, str, dict[str, Any]]) -> None:
    _method, path, operation = entry
    name = operation.get("operationId", "")
    assert name, "an operationId"
    assert not name.endswith(("_get", "_post", "_patch", "_delete")), "a chosen operationId, not FastAPI's"
    assert operation.get("summary"), "a summary"
    responses = operation["responses"]
    successes = [code for code in responses if code.startswith(("2", "3"))]
    assert successes, "a documented success"
    for code in successes:
        if code not in NO_BODY_RESPONSES:
            assert "schema" in responses[code].get("content", {}).get("application/json", {}), f"{code} has a model"
    if name not in RATE_LIMIT_EXEMPT:
        assert "429" in responses, "rate limits apply to every route but health"
    if name not in PUBLIC:
        assert operation.get("security"), "an API token is required"
        assert "401" in responses
    if "{" in path:
        assert "404" in responses or "422" in responses
        assert "422" in responses, "a malformed path parameter is a 422"
    if "requestBody" in operation or name in RAW_BODY:
        assert "413" in responses, "oversized bodies are refused"
        if name not in RAW_BODY:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body, "a request model"
            assert "422" in responses
    for code, response in responses.items():
        if code.startswith(("4", "5")) and (code != "503" or "content" in response):
            assert response.get("content", {}).get("application/json", {}).get("schema"), f"{code} has a model"


def test_create_links_drive_the_stateful_phase() -> None:
    [create] = [operation for _, _, operation in OPERATIONS if operation["operationId"] == "createIntegration"]
    links = create["responses"]["201"]["links"]
    targets = {link["operationId"] for link in links.values()}
    assert targets == {"getIntegration", "updateIntegration", "syncIntegration", "deleteIntegration"}
    assert links["SyncIntegration"]["requestBody"]["integrationId"] == "$response.body#/integration/id"
