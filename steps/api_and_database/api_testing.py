"""Steps of the API testing procedure (OPS-APITEST): an integration walked through the API's endpoints,
and bad requests answered with the error model."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest
from pytest_bdd import parsers, then, when

from steps.common import World, describe
from steps.support.security import INTEGRATIONS, create_integration, expect_error, integration_of, send_burst


@dataclass(frozen=True)
class ApiWalk:
    """An integration walked through the API: each step (label, expected status, answer), its id, and whether
    the user's list showed it."""

    steps: list[tuple[str, int, httpx.Response]]
    integration_id: str
    listed: bool


@when(
    parsers.parse(
        '"{name}" walks an integration through the API: create, list, read, update, its logs and records, delete'
    ),
    target_fixture="api_walk",
)
def security_walk_integration(world: World, request: pytest.FixtureRequest, name: str) -> ApiWalk:
    user = world.user(name)
    created = create_integration(request, user, f"qa-walk-{uuid.uuid4().hex[:8]}")
    steps: list[tuple[str, int, httpx.Response]] = [("GET /api/health", 200, world.client().get("/api/health"))]
    steps.append(("POST /api/integrations", 201, created))
    assert created.status_code == 201, f"expected the integration created: {describe(created)}"
    integration_id = integration_of(created)["id"]
    path = f"{INTEGRATIONS}/{integration_id}"
    client = user.client
    steps += [
        ("GET /api/integrations", 200, client.get(INTEGRATIONS)),
        ("GET /api/integrations/{id}", 200, client.get(path)),
        ("PATCH /api/integrations/{id}", 200, client.patch(path, json={"integrationName": "qa-walk-renamed"})),
        (
            "GET /api/integrations/logs",
            200,
            client.get(f"{INTEGRATIONS}/logs", params={"integrationId": integration_id}),
        ),
        (
            "GET /api/integrations/xero/invoices",
            200,
            client.get(f"{INTEGRATIONS}/xero/invoices", params={"integrationId": integration_id}),
        ),
        ("DELETE /api/integrations/{id}", 204, client.delete(path)),
    ]
    listed = steps[2][2].json().get("integrations", []) if steps[2][2].status_code == 200 else []
    return ApiWalk(steps=steps, integration_id=integration_id, listed=any(i["id"] == integration_id for i in listed))


@then("every step was answered with its success status")
def security_walk_succeeded(api_walk: ApiWalk) -> None:
    failed = [
        f"{label}: expected {status}, {describe(r)[:200]}"
        for label, status, r in api_walk.steps
        if r.status_code != status
    ]
    assert not failed, "\n".join(failed)
    assert api_walk.listed, "the new integration was not in the user's list"


@then("the deleted integration is no longer found")
def security_walk_deleted(world: World, api_walk: ApiWalk) -> None:
    user = next(iter(world.users.values()))
    response = user.client.get(f"{INTEGRATIONS}/{api_walk.integration_id}")
    expect_error(response, 404, "not_found")


@when(parsers.re(r'"(?P<name>[^"]+)" sends a request with (?P<error>.+)'))
def security_send_bad_request(world: World, name: str, error: str) -> None:
    user = world.user(name)
    sync = f"{INTEGRATIONS}/sync"
    valid = {"integrationId": str(uuid.uuid4()), "dataType": "invoices"}
    if error == "a required field missing":
        world.response = user.client.post(sync, json={"dataType": "invoices"})
    elif error == "an integration id not hers":
        world.response = user.client.post(sync, json=valid)
    elif error == "an integration id not an id":
        world.response = user.client.post(sync, json={**valid, "integrationId": "not-an-id"})
    elif error == "no API token":
        world.response = world.client().post(sync, json=valid)
    elif error == "malformed JSON":
        world.response = user.client.post(
            sync, content=b'{"integrationId": ', headers={"Content-Type": "application/json"}
        )
    elif error == "the rate limit exceeded":
        responses = send_burst(world, user, INTEGRATIONS, 1).responses
        world.response = next((r for r in responses if r.status_code == 429), responses[-1])
    else:
        raise ValueError(f"no bad request {error!r}")
