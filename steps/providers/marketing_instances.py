"""The marketing providers' side of the BillionMail and Mautic scenarios (and of the integration-testing ones):
each scenario's own instance made in the provider sandbox, so that counts compare exactly with what that
instance holds whatever other scenarios did, and the service's paged lists and campaign syncs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from steps.common import ApiUser, World, connect_account, describe

SENDER = "newsletter@sandbox-mail.example.com"  # a mailbox every sandbox BillionMail instance has
UNKNOWN_KEY = "bm-this-key-was-never-issued-by-the-instance"
TASK_STATES = {0: "not_started", 1: "running", 2: "completed", 3: "paused"}  # BillionMail's task_process


def expect(response: httpx.Response, status: int, what: str) -> Any:
    """The JSON of an answer that must have `status`; otherwise the scenario fails saying what was tried."""
    assert response.status_code == status, f"{what}: expected {status}: {describe(response)}"
    return response.json()


# --- the scenario's own provider instances ----------------------------------------------------------


@dataclass(frozen=True)
class BillionMailInstance:
    tenant_id: str
    api_key: str  # shown once by the sandbox; never printed


def new_billionmail_instance(world: World, campaigns: int) -> BillionMailInstance:
    """A BillionMail instance with its own API key and `campaigns` tasks (at least the 12 it starts with)."""
    control = world.sandbox()
    name = f"qa billionmail {uuid.uuid4().hex[:8]}"
    tenant_id = expect(control.post("/tenants", json={"provider": "billionmail", "name": name}), 201, "new instance")[
        "tenant_id"
    ]
    expect(control.patch(f"/billionmail/instances/{tenant_id}", json={"tasks": campaigns}), 200, "grow instance")
    key = expect(control.post(f"/billionmail/instances/{tenant_id}/key"), 201, "instance key")["api_key"]
    return BillionMailInstance(tenant_id, key)


def billionmail_campaign_count(world: World, tenant_id: str) -> int:
    instances = expect(world.sandbox().get("/billionmail/instances"), 200, "BillionMail instances")
    return int(next(item["tasks"] for item in instances if item["tenant_id"] == tenant_id))


def create_billionmail(world: World, user: ApiUser, api_key: str, name: str) -> httpx.Response:
    return user.client.post(
        "/api/integrations",
        json={
            "integrationType": "BILLIONMAIL",
            "integrationName": name,
            "apiKey": api_key,
            "customData": {"baseUrl": f"{world.sandbox_url()}/billionmail"},
        },
    )


def new_mautic_instance(world: World, campaigns: int) -> str:
    """A Mautic instance with `campaigns` campaigns (at least its 12); its tenant id picks it at consent."""
    control = world.sandbox()
    name = f"qa mautic {uuid.uuid4().hex[:8]}"
    tenant_id: str = expect(control.post("/tenants", json={"provider": "mautic", "name": name}), 201, "new instance")[
        "tenant_id"
    ]
    expect(control.patch(f"/mautic/instances/{tenant_id}", json={"campaigns": campaigns}), 200, "grow instance")
    return tenant_id


def mautic_campaign_count(world: World, tenant_id: str) -> int:
    instances = expect(world.sandbox().get("/mautic/instances"), 200, "Mautic instances")
    return int(next(item["campaigns"] for item in instances if item["tenant_id"] == tenant_id))


def connect_mautic(world: World, user: ApiUser, tenant_id: str) -> dict[str, Any]:
    """The user consents at the Mautic instance `tenant_id` through the service's OAuth flow."""
    return connect_account(world, user, "mautic", tenant=tenant_id, integrationName=f"mautic {uuid.uuid4().hex[:8]}")


def mautic_grant(world: World, tenant_id: str) -> dict[str, Any]:
    """The one OAuth consent Mautic holds for the instance: the tokens it issued and which are spent."""
    grants = expect(world.sandbox().get("/tokens", params={"provider": "mautic"}), 200, "Mautic grants")
    mine = [grant for grant in grants if grant["tenant_ids"] == [tenant_id]]
    assert len(mine) == 1, f"expected one Mautic consent for the scenario's instance, found {len(mine)}"
    return dict(mine[0])


def all_pages(client: httpx.Client, path: str, collection: str, **query: str) -> list[dict[str, Any]]:
    """Every item of one of the service's paged lists (`query`: its filters)."""
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {**query, "limit": 200, "offset": len(items)}
        page = expect(client.get(path, params=params), 200, f"GET {path}")
        items += page[collection]
        if not page[collection] or len(items) >= page["total"]:
            return items


def sync_campaigns(user: ApiUser, integration_id: str) -> httpx.Response:
    return user.client.post("/api/integrations/sync", json={"integrationId": integration_id, "dataType": "campaigns"})


def assert_synced_everything(response: httpx.Response, expected: int) -> None:
    result = expect(response, 200, "the campaigns sync")["result"]
    counts = (result["status"], result["totalRecords"], result["syncedRecords"], result["failedRecords"])
    assert counts == ("success", expected, expected, 0), (
        f"expected (status, total, synced, failed) = ('success', {expected}, {expected}, 0), got {counts}"
    )


def assert_listed_once_each(listed: list[dict[str, Any]], key: str, expected: int) -> None:
    ids = [item[key] for item in listed]
    assert len(ids) == len(set(ids)) == expected, (
        f"expected {expected} campaigns listed once each; listed {len(ids)} rows, {len(set(ids))} distinct"
    )


def owner(world: World) -> ApiUser:
    """The scenario's first user: the one whose integrations these are."""
    assert world.users, "the scenario has no user yet"
    return next(iter(world.users.values()))


def integration_of(world: World, label: str) -> dict[str, Any]:
    assert label in world.integrations, f"the scenario has no {label} integration yet"
    return world.integrations[label]
