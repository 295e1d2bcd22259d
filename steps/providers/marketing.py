"""Steps of the BillionMail and Mautic scenarios (BM-01..05, MAUTIC-01..06).

Each scenario works on a BillionMail or Mautic instance of its own, made in the provider sandbox, so
that counts compare exactly with what that instance holds, whatever other scenarios did. What the
service reports is checked against the instance's own state (the sandbox's control API), never
against what the service itself said earlier.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pytest_bdd import given, parsers, then, when

from steps.common import ApiUser, World, connect_account, describe, error_code

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


# --- BillionMail -------------------------------------------------------------------------------


def billionmail(world: World) -> BillionMailInstance:
    instance = world.facts.get("billionmail")
    assert isinstance(instance, BillionMailInstance), "the scenario has no BillionMail instance"
    return instance


def billionmail_task(world: World, task_id: str) -> dict[str, Any]:
    path = f"/billionmail/instances/{billionmail(world).tenant_id}/tasks/{task_id}"
    return dict(expect(world.sandbox().get(path), 200, f"BillionMail task {task_id}"))


def billionmail_admin(world: World) -> httpx.Client:
    """BillionMail's own API with the instance's key, as the instance's administrator uses it."""
    base = f"{world.sandbox_url()}/billionmail/api"
    return world.client(base_url=base, headers={"Authorization": f"Bearer {billionmail(world).api_key}"})


def billionmail_call(world: World, method: str, path: str, **options: Any) -> Any:
    body = expect(billionmail_admin(world).request(method, path, **options), 200, f"BillionMail {path}")
    assert body.get("success") is True, f"BillionMail {path} refused: code {body.get('code')} {body.get('msg')!r}"
    return body["data"]


@given(parsers.parse("a fresh BillionMail instance holding {campaigns:d} campaigns"))
def a_fresh_billionmail_instance(world: World, campaigns: int) -> None:
    world.facts["billionmail"] = new_billionmail_instance(world, campaigns)


@when(parsers.parse('"{name}" connects BillionMail with the instance\'s API key'))
def connect_billionmail_with_key(world: World, name: str) -> None:
    world.response = create_billionmail(world, world.user(name), billionmail(world).api_key, "newsletter")


@given(parsers.parse('"{name}" has connected the BillionMail instance'))
def has_connected_billionmail(world: World, name: str) -> None:
    created = create_billionmail(world, world.user(name), billionmail(world).api_key, "newsletter")
    world.integrations["BillionMail"] = expect(created, 201, "connecting BillionMail")["integration"]


@then("the BillionMail integration is created without showing the API key")
def billionmail_created(world: World) -> None:
    response = world.last_response()
    integration = expect(response, 201, "connecting BillionMail with the instance's key")["integration"]
    assert billionmail(world).api_key not in response.text, "the answer to POST /api/integrations shows the API key"
    assert (integration["integrationType"], integration["hasApiKey"]) == ("BILLIONMAIL", True), describe(response)
    world.integrations["BillionMail"] = integration


@then("the BillionMail connection test passes")
def billionmail_test_passes(world: World) -> None:
    integration = integration_of(world, "BillionMail")
    body = expect(owner(world).client.post(f"/api/integrations/{integration['id']}/test"), 200, "the connection test")
    assert body.get("ok") is True, f"expected ok true from the connection test, got {body}"


@when(parsers.parse('"{name}" connects BillionMail with an API key the instance does not know'))
def connect_billionmail_with_unknown_key(world: World, name: str) -> None:
    world.facts["refused_name"] = f"refused {uuid.uuid4().hex[:8]}"
    world.response = create_billionmail(world, world.user(name), UNKNOWN_KEY, world.facts["refused_name"])


@then('the BillionMail connection is refused as "connection_failed" and no integration is stored')
def billionmail_connection_refused(world: World) -> None:
    response = world.last_response()
    assert (response.status_code, error_code(response)) == (422, "connection_failed"), (
        f"BillionMail answers a refused key inside HTTP 200; expected 422 connection_failed: {describe(response)}"
    )
    listed = all_pages(owner(world).client, "/api/integrations", "integrations")
    names = [item["integrationName"] for item in listed]
    assert world.facts["refused_name"] not in names, f"the refused integration was stored anyway: {names}"


@when(parsers.parse('"{name}" replaces the BillionMail integration\'s API key with one the instance does not know'))
def replace_billionmail_key(world: World, name: str) -> None:
    integration = integration_of(world, "BillionMail")
    changed = world.user(name).client.patch(f"/api/integrations/{integration['id']}", json={"apiKey": UNKNOWN_KEY})
    expect(changed, 200, "changing the API key")


@then('the BillionMail connection test fails as "connection_failed"')
def billionmail_test_fails(world: World) -> None:
    integration = integration_of(world, "BillionMail")
    tested = owner(world).client.post(f"/api/integrations/{integration['id']}/test")
    assert (tested.status_code, error_code(tested)) == (422, "connection_failed"), (
        f"a key BillionMail refuses (inside HTTP 200) must fail the test: {describe(tested)}"
    )


@when(parsers.parse('"{name}" syncs the BillionMail campaigns'))
def sync_billionmail(world: World, name: str) -> None:
    world.response = sync_campaigns(world.user(name), integration_of(world, "BillionMail")["id"])


@then("the BillionMail sync reports every campaign of the instance as synced")
def billionmail_sync_complete(world: World) -> None:
    assert_synced_everything(world.last_response(), billionmail_campaign_count(world, billionmail(world).tenant_id))


def billionmail_listed(world: World) -> list[dict[str, Any]]:
    integration = integration_of(world, "BillionMail")
    return all_pages(owner(world).client, f"/api/integrations/billionmail/{integration['id']}/campaigns", "campaigns")


@then("the service lists every campaign of the BillionMail instance exactly once")
def billionmail_listed_once(world: World) -> None:
    expected = billionmail_campaign_count(world, billionmail(world).tenant_id)
    assert_listed_once_each(billionmail_listed(world), "billionmailTaskId", expected)


@then("each synced BillionMail campaign shows the subject, status, recipients and sent count BillionMail shows")
def billionmail_fields_match(world: World) -> None:
    mismatches = []
    for campaign in billionmail_listed(world):
        task = billionmail_task(world, campaign["billionmailTaskId"])
        shown = (campaign["subject"], campaign["status"], campaign["recipientCount"], campaign["sentCount"])
        truth = (task["subject"], TASK_STATES[task["task_process"]], task["recipient_count"], task["sent_count"])
        if shown != truth:
            mismatches.append(f"task {task['id']}: service {shown}, BillionMail {truth}")
    assert not mismatches, f"{len(mismatches)} synced campaigns differ from BillionMail: {mismatches[:5]}"


def create_billionmail_campaign(world: World, name: str, group_ids: list[int], start: datetime | None) -> None:
    integration = integration_of(world, "BillionMail")
    subject = f"QA campaign {uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {"addresser": SENDER, "subject": subject, "templateId": 1, "groupIds": group_ids}
    if start is not None:
        body["startTime"] = start.isoformat()
    world.facts["bm_new"] = {"subject": subject, "group_ids": group_ids, "start": start}
    world.response = world.facts["bm_created"] = world.user(name).client.post(
        f"/api/integrations/billionmail/{integration['id']}/campaigns", json=body
    )


@when(
    parsers.parse(
        '"{name}" creates a BillionMail campaign to groups {first:d} and {second:d} scheduled {days:d} days ahead'
    )
)
def create_scheduled_campaign(world: World, name: str, first: int, second: int, days: int) -> None:
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    create_billionmail_campaign(world, name, [first, second], later)


@when(parsers.parse('"{name}" creates a BillionMail campaign to groups {first:d} and {second:d} to be sent now'))
def create_campaign_now(world: World, name: str, first: int, second: int) -> None:
    create_billionmail_campaign(world, name, [first, second], None)


def new_billionmail_campaign(world: World) -> dict[str, Any]:
    """The campaign the scenario created, as the service answered the creation."""
    created: dict[str, Any] = expect(world.facts["bm_created"], 201, "creating the BillionMail campaign")["campaign"]
    return created


@then(parsers.parse('the BillionMail campaign is created as "{status}"'))
def billionmail_campaign_created_as(world: World, status: str) -> None:
    campaign = new_billionmail_campaign(world)
    wanted = world.facts["bm_new"]
    shown = (campaign["subject"], campaign["groupIds"], campaign["status"])
    assert shown == (wanted["subject"], wanted["group_ids"], status), (
        f"expected (subject, groupIds, status) = {(wanted['subject'], wanted['group_ids'], status)}, got {shown}"
    )


@then("BillionMail holds the campaign with its subject, groups and start time, nothing sent")
def billionmail_holds_scheduled(world: World) -> None:
    campaign = new_billionmail_campaign(world)
    wanted = world.facts["bm_new"]
    task = billionmail_task(world, campaign["billionmailTaskId"])
    shown = (task["subject"], task["group_ids"], task["start_time"], task["task_process"], task["sent_count"])
    truth = (wanted["subject"], wanted["group_ids"], int(wanted["start"].timestamp()), 0, 0)
    assert shown == truth, f"BillionMail's task (subject, groups, start, process, sent) is {shown}, expected {truth}"


@then("the service lists the new BillionMail campaign")
def billionmail_lists_new(world: World) -> None:
    campaign = new_billionmail_campaign(world)
    ids = [item["billionmailTaskId"] for item in billionmail_listed(world)]
    assert campaign["billionmailTaskId"] in ids, f"the new task {campaign['billionmailTaskId']} is not listed"


@then("BillionMail has sent the campaign to every one of its recipients")
def billionmail_sent(world: World) -> None:
    campaign = new_billionmail_campaign(world)
    task = billionmail_task(world, campaign["billionmailTaskId"])
    assert task["recipient_count"] > 0, "the campaign has no recipients: the scenario's groups are empty"
    shown = (task["task_process"], task["sent_count"])
    assert shown == (2, task["recipient_count"]), (
        f"expected the task completed (2) with {task['recipient_count']} sent, BillionMail shows (process, sent) "
        f"{shown}"
    )


@then(parsers.parse('the service shows the new BillionMail campaign as "{status}" with every recipient sent'))
def billionmail_synced_sent(world: World, status: str) -> None:
    campaign = new_billionmail_campaign(world)
    task = billionmail_task(world, campaign["billionmailTaskId"])
    listed = {item["billionmailTaskId"]: item for item in billionmail_listed(world)}
    synced = listed.get(campaign["billionmailTaskId"])
    assert synced is not None, f"the new task {campaign['billionmailTaskId']} is not listed after the sync"
    shown = (synced["status"], synced["recipientCount"], synced["sentCount"])
    truth = (status, task["recipient_count"], task["recipient_count"])
    assert shown == truth, f"expected (status, recipients, sent) {truth}, the service shows {shown}"


@given("two contact groups in the BillionMail instance:")
def two_billionmail_groups(world: World, datatable: list[list[str]]) -> None:
    """Rows: address label, then its state in each group (subscribed | unsubscribed | absent)."""
    tag = uuid.uuid4().hex[:8]
    memberships: list[list[tuple[str, int]]] = [[], []]
    expected: set[str] = set()
    for label, *states in datatable[1:]:
        email = f"{label}-{tag}@example.org"
        for group, state in zip(memberships, states, strict=True):
            if state != "absent":
                group.append((email, 1 if state == "subscribed" else 0))
        if "subscribed" in states:
            expected.add(email)
    world.facts["bm_groups"] = [new_billionmail_group(world, rows) for rows in memberships]
    world.facts["bm_expected_recipients"] = expected


def new_billionmail_group(world: World, rows: list[tuple[str, int]]) -> int:
    """A contact group made through BillionMail's own API; its id (BillionMail's create returns none)."""
    name = f"qa group {uuid.uuid4().hex[:8]}"
    file_data = "\n".join(f"{email},{active}" for email, active in rows)
    billionmail_call(
        world, "POST", "/contact/group/create", json={"name": name, "create_type": 1, "file_data": file_data}
    )
    groups = billionmail_call(world, "GET", "/contact/group/all")["list"]
    return int(next(group["id"] for group in groups if group["name"] == name))


@when(parsers.parse('"{name}" creates a BillionMail campaign to those two groups to be sent now'))
def create_campaign_to_new_groups(world: World, name: str) -> None:
    create_billionmail_campaign(world, name, list(world.facts["bm_groups"]), None)


@then(parsers.parse("the BillionMail campaign's recipient count is {count:d}, one per subscribed address"))
def billionmail_recipient_count(world: World, count: int) -> None:
    campaign = new_billionmail_campaign(world)
    assert campaign["recipientCount"] == count, f"expected recipientCount {count}, got {campaign['recipientCount']}"


@then("that count equals the recipients BillionMail froze for the campaign")
def billionmail_count_matches_instance(world: World) -> None:
    campaign = new_billionmail_campaign(world)
    task = billionmail_task(world, campaign["billionmailTaskId"])
    assert set(task["recipients"]) == world.facts["bm_expected_recipients"], (
        "BillionMail's recipients are not the distinct subscribed addresses of the groups"
    )
    assert campaign["recipientCount"] == len(task["recipients"]), (
        f"the service reports {campaign['recipientCount']} recipients, BillionMail has {len(task['recipients'])}"
    )


@then("after a sync the service still reports BillionMail's recipient count for the campaign")
def billionmail_count_after_sync(world: World) -> None:
    campaign = new_billionmail_campaign(world)
    assert_synced_everything(
        sync_campaigns(owner(world), integration_of(world, "BillionMail")["id"]),
        billionmail_campaign_count(world, billionmail(world).tenant_id),
    )
    task = billionmail_task(world, campaign["billionmailTaskId"])
    synced = {item["billionmailTaskId"]: item for item in billionmail_listed(world)}[campaign["billionmailTaskId"]]
    assert synced["recipientCount"] == len(task["recipients"]), (
        f"after the sync the service reports {synced['recipientCount']}, BillionMail {len(task['recipients'])}"
    )


# --- Mautic ------------------------------------------------------------------------------------


def mautic_tenant(world: World) -> str:
    tenant_id = world.facts.get("mautic_tenant")
    assert isinstance(tenant_id, str), "the scenario has no Mautic instance"
    return tenant_id


def mautic_state(world: World, kind: str, item_id: int | str) -> dict[str, Any]:
    path = f"/mautic/instances/{mautic_tenant(world)}/{kind}/{item_id}"
    return dict(expect(world.sandbox().get(path), 200, f"Mautic {kind} {item_id}"))


def mautic_base(world: World) -> str:
    return f"/api/integrations/mautic/{integration_of(world, 'Mautic')['id']}"


@given(parsers.parse("a fresh Mautic instance holding {campaigns:d} campaigns"))
def a_fresh_mautic_instance(world: World, campaigns: int) -> None:
    world.facts["mautic_tenant"] = new_mautic_instance(world, campaigns)


@when(parsers.parse('"{name}" connects the Mautic instance through its consent page'))
@given(parsers.parse('"{name}" has connected the Mautic instance'))
def connect_the_mautic_instance(world: World, name: str) -> None:
    world.integrations["Mautic"] = connect_mautic(world, world.user(name), mautic_tenant(world))


@then("the Mautic integration is connected with an access and a refresh token, neither shown")
def mautic_connected(world: World) -> None:
    integration = integration_of(world, "Mautic")
    shown = (integration["integrationType"], integration["hasAccessToken"], integration["hasRefreshToken"])
    assert shown == ("MAUTIC", True, True), f"expected (MAUTIC, True, True), got {shown}"
    leaked = {"accessToken", "refreshToken", "access_token", "refresh_token"} & set(integration)
    assert not leaked, f"the callback's answer carries token fields: {sorted(leaked)}"
    expires = integration["tokenExpiresAt"]
    assert expires, "the integration has no tokenExpiresAt"
    assert datetime.fromisoformat(expires) > datetime.now(UTC), f"tokenExpiresAt is in the past: {expires!r}"


@then("Mautic shows one consent for the service on that instance, its first tokens unused and live")
def mautic_one_consent(world: World) -> None:
    grant = mautic_grant(world, mautic_tenant(world))
    access, refresh = grant["access_tokens"], grant["refresh_tokens"]
    assert [token["revoked"] for token in access] == [False], f"expected one live access token, got {access}"
    assert [token["current"] for token in refresh] == [True], f"expected one current refresh token, got {refresh}"


@then("the Mautic connection test passes")
def mautic_test_passes(world: World) -> None:
    integration = integration_of(world, "Mautic")
    body = expect(
        owner(world).client.post(f"/api/integrations/{integration['id']}/test"), 200, "the Mautic connection test"
    )
    assert body.get("ok") is True, f"expected ok true from the connection test, got {body}"


@when(parsers.parse('"{name}" tests the Mautic connection'))
def test_mautic(world: World, name: str) -> None:
    world.response = world.user(name).client.post(f"/api/integrations/{integration_of(world, 'Mautic')['id']}/test")


@when(parsers.parse('"{name}" syncs the Mautic campaigns'))
def sync_mautic(world: World, name: str) -> None:
    world.response = sync_campaigns(world.user(name), integration_of(world, "Mautic")["id"])


@then("the Mautic sync reports every campaign of the instance as synced")
def mautic_sync_complete(world: World) -> None:
    assert_synced_everything(world.last_response(), mautic_campaign_count(world, mautic_tenant(world)))


def mautic_listed(world: World, **query: str) -> list[dict[str, Any]]:
    return all_pages(owner(world).client, f"{mautic_base(world)}/campaigns", "campaigns", **query)


@then("the service lists every campaign of the Mautic instance exactly once, with its name and published state")
def mautic_listed_once(world: World) -> None:
    listed = mautic_listed(world)
    assert_listed_once_each(listed, "mauticCampaignId", mautic_campaign_count(world, mautic_tenant(world)))
    mismatches = []
    for campaign in listed:
        truth = mautic_state(world, "campaigns", campaign["mauticCampaignId"])
        if (campaign["name"], campaign["isPublished"]) != (truth["name"], truth["isPublished"]):
            mismatches.append(f"{campaign['mauticCampaignId']}: {campaign['name']!r} vs {truth['name']!r}")
    assert not mismatches, f"{len(mismatches)} synced campaigns differ from Mautic: {mismatches[:5]}"


def create_mautic_campaign(world: World, name: str, segment_ids: list[int]) -> dict[str, Any]:
    title = f"QA welcome series {uuid.uuid4().hex[:8]}"
    created = world.user(name).client.post(
        f"{mautic_base(world)}/campaigns", json={"name": title, "segmentIds": segment_ids}
    )
    campaign: dict[str, Any] = expect(created, 201, "creating the Mautic campaign")["campaign"]
    assert (campaign["name"], campaign["isPublished"]) == (title, False), f"the service answered {campaign}"
    world.facts["mautic_campaign"] = campaign
    return campaign


@when(parsers.parse('"{name}" creates a Mautic campaign drawing on segments {first:d} and {second:d}'))
def create_mautic_with_segments(world: World, name: str, first: int, second: int) -> None:
    create_mautic_campaign(world, name, [first, second])


@given(parsers.parse('"{name}" has created an unpublished Mautic campaign'))
def has_created_mautic_campaign(world: World, name: str) -> None:
    create_mautic_campaign(world, name, [1])


@then(parsers.parse("Mautic holds the new campaign, unpublished, drawing on segments {first:d} and {second:d}"))
def mautic_holds_campaign(world: World, first: int, second: int) -> None:
    campaign = world.facts["mautic_campaign"]
    truth = mautic_state(world, "campaigns", campaign["mauticCampaignId"])
    shown = (truth["name"], truth["isPublished"], sorted(segment["id"] for segment in truth["lists"]))
    assert shown == (campaign["name"], False, [first, second]), f"Mautic holds (name, published, segments) {shown}"


@then("the service lists the new Mautic campaign")
def mautic_lists_new(world: World) -> None:
    campaign_id = world.facts["mautic_campaign"]["mauticCampaignId"]
    ids = [item["mauticCampaignId"] for item in mautic_listed(world)]
    assert campaign_id in ids, f"the new campaign {campaign_id} is not listed"


@when(parsers.re(r'"(?P<name>[^"]+)" (?P<action>publishes|unpublishes) the Mautic campaign$'))
def publish_mautic(world: World, name: str, action: str) -> None:
    campaign_id = world.facts["mautic_campaign"]["mauticCampaignId"]
    published = action == "publishes"
    answered = world.user(name).client.post(
        f"{mautic_base(world)}/campaigns/{campaign_id}/publish", json={"isPublished": published}
    )
    shown = expect(answered, 200, f"{action[:-1]}ing the campaign")["campaign"]["isPublished"]
    assert shown is published, f"the service answered isPublished {shown}, expected {published}"


@then(parsers.re(r"Mautic shows the campaign as (?P<state>published|unpublished)$"))
def mautic_shows_published(world: World, state: str) -> None:
    truth = mautic_state(world, "campaigns", world.facts["mautic_campaign"]["mauticCampaignId"])
    assert truth["isPublished"] is (state == "published"), f"Mautic shows isPublished {truth['isPublished']}"


@then(parsers.re(r"the service lists it (?P<among>among|not among) the published Mautic campaigns$"))
def mautic_published_listing(world: World, among: str) -> None:
    campaign_id = world.facts["mautic_campaign"]["mauticCampaignId"]
    ids = [item["mauticCampaignId"] for item in mautic_listed(world, published="true")]
    assert (campaign_id in ids) is (among == "among"), f"campaign {campaign_id} should be {among} {ids[:20]}"


@given(parsers.parse("contacts {first:d} and {second:d} are not in Mautic segment {segment:d}"))
def contacts_not_in_segment(world: World, first: int, second: int, segment: int) -> None:
    members = set(mautic_state(world, "segments", segment)["contact_ids"])
    assert not {first, second} & members, f"precondition: contacts {first}, {second} already in segment {segment}"


@when(parsers.parse('"{name}" adds contacts {contacts} to Mautic segment {segment:d}'))
def add_to_segment(world: World, name: str, contacts: str, segment: int) -> None:
    ids = [int(part) for part in contacts.replace(" and ", ",").split(",")]
    world.response = world.user(name).client.post(
        f"{mautic_base(world)}/segments/{segment}/contacts", json={"contactIds": ids}
    )


@then(parsers.parse("Mautic segment {segment:d} holds contacts {first:d} and {second:d}"))
def segment_holds(world: World, segment: int, first: int, second: int) -> None:
    body = expect(world.last_response(), 200, "adding the contacts")
    assert body == {"segmentId": segment, "addedContactIds": [first, second]}, f"the service answered {body}"
    members = set(mautic_state(world, "segments", segment)["contact_ids"])
    assert {first, second} <= members, f"Mautic segment {segment} lacks contacts {first}, {second}"


@then(parsers.parse("the addition is refused naming contact {refused:d}, after adding contact {added:d}"))
def segment_refusal(world: World, refused: int, added: int) -> None:
    response = world.last_response()
    assert response.status_code == 422, f"expected 422 for an unknown contact: {describe(response)}"
    message = response.json()["error"]["message"]
    assert f"contact {refused}" in message, f"the refusal should name contact {refused}: {message!r}"
    assert f"added before it: [{added}]" in message, f"the refusal should say {added} was added: {message!r}"


@when("Mautic expires the access tokens it issued")
def expire_mautic_tokens(world: World) -> None:
    mine = {"provider": "mautic", "tenant_id": mautic_tenant(world)}  # the scenario's instance only
    expired = expect(world.sandbox().post("/tokens/expire", json=mine), 200, "expire")["expired"]
    assert expired >= 1, "the sandbox expired no Mautic access token"


@then(parsers.parse("Mautic has rotated the integration's refresh token {times:d} times, the newest one unused"))
def mautic_rotated(world: World, times: int) -> None:
    grant = mautic_grant(world, mautic_tenant(world))
    refresh = grant["refresh_tokens"]
    states = [(token["rotated"], token["current"], token["revoked"]) for token in refresh]
    expected = [(True, False, False)] * times + [(False, True, False)]
    assert states == expected, f"Mautic's refresh tokens (rotated, current, revoked): {states}, expected {expected}"
    assert len(grant["access_tokens"]) == times + 1, f"expected {times + 1} access tokens issued"


@then("the Mautic integration is still connected")
def mautic_still_connected(world: World) -> None:
    integration = integration_of(world, "Mautic")
    shown = expect(owner(world).client.get(f"/api/integrations/{integration['id']}"), 200, "reading the integration")
    status = shown["integration"]["syncStatus"]
    assert status != "ERROR", f"the integration is in ERROR: {shown['integration']['syncError']!r}"
