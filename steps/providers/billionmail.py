"""Steps of the BillionMail scenarios (BM-01..05), on a BillionMail instance of the scenario's own.

What the service reports is checked against the instance's own state (the sandbox's control API and
BillionMail's own API with the instance's key), never against what the service itself said earlier. The
instance, the new campaign and the contact groups pass between steps as fixtures (`target_fixture`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from steps.common import World, describe, error_code
from steps.providers.marketing_instances import (
    SENDER,
    TASK_STATES,
    UNKNOWN_KEY,
    BillionMailInstance,
    all_pages,
    assert_listed_once_each,
    assert_synced_everything,
    billionmail_campaign_count,
    create_billionmail,
    expect,
    integration_of,
    new_billionmail_instance,
    owner,
    sync_campaigns,
)


@pytest.fixture
def billionmail_instance() -> BillionMailInstance:
    """The scenario's BillionMail instance, made by its "a fresh BillionMail instance" step."""
    pytest.fail('the scenario has no BillionMail instance: it needs "Given a fresh BillionMail instance holding …"')


@dataclass(frozen=True)
class NewCampaign:
    """A campaign the scenario asked the service to create, and the service's answer."""

    subject: str
    group_ids: list[int]
    start: datetime | None
    answer: httpx.Response

    @property
    def created(self) -> dict[str, Any]:
        """The campaign as the service answered the creation."""
        campaign: dict[str, Any] = expect(self.answer, 201, "creating the BillionMail campaign")["campaign"]
        return campaign


@dataclass(frozen=True)
class ContactGroups:
    """Contact groups made in the instance, and the distinct subscribed addresses across them."""

    ids: list[int]
    subscribed: set[str]


def billionmail_task(world: World, instance: BillionMailInstance, task_id: str) -> dict[str, Any]:
    path = f"/billionmail/instances/{instance.tenant_id}/tasks/{task_id}"
    return dict(expect(world.sandbox().get(path), 200, f"BillionMail task {task_id}"))


def billionmail_admin(world: World, instance: BillionMailInstance) -> httpx.Client:
    """BillionMail's own API with the instance's key, as the instance's administrator uses it."""
    base = f"{world.sandbox_url()}/billionmail/api"
    return world.client(base_url=base, headers={"Authorization": f"Bearer {instance.api_key}"})


def billionmail_call(world: World, instance: BillionMailInstance, method: str, path: str, **options: Any) -> Any:
    body = expect(billionmail_admin(world, instance).request(method, path, **options), 200, f"BillionMail {path}")
    assert body.get("success") is True, f"BillionMail {path} refused: code {body.get('code')} {body.get('msg')!r}"
    return body["data"]


@given(
    parsers.parse("a fresh BillionMail instance holding {campaigns:d} campaigns"), target_fixture="billionmail_instance"
)
def a_fresh_billionmail_instance(world: World, campaigns: int) -> BillionMailInstance:
    return new_billionmail_instance(world, campaigns)


@when(parsers.parse('"{name}" connects BillionMail with the instance\'s API key'))
def connect_billionmail_with_key(world: World, name: str, billionmail_instance: BillionMailInstance) -> None:
    world.response = create_billionmail(world, world.user(name), billionmail_instance.api_key, "newsletter")


@given(parsers.parse('"{name}" has connected the BillionMail instance'))
def has_connected_billionmail(world: World, name: str, billionmail_instance: BillionMailInstance) -> None:
    created = create_billionmail(world, world.user(name), billionmail_instance.api_key, "newsletter")
    world.integrations["BillionMail"] = expect(created, 201, "connecting BillionMail")["integration"]


@then("the BillionMail integration is created without showing the API key")
def billionmail_created(world: World, billionmail_instance: BillionMailInstance) -> None:
    response = world.last_response()
    integration = expect(response, 201, "connecting BillionMail with the instance's key")["integration"]
    assert billionmail_instance.api_key not in response.text, "the answer to POST /api/integrations shows the API key"
    assert (integration["integrationType"], integration["hasApiKey"]) == ("BILLIONMAIL", True), describe(response)
    world.integrations["BillionMail"] = integration


@then("the BillionMail connection test passes")
def billionmail_test_passes(world: World) -> None:
    integration = integration_of(world, "BillionMail")
    body = expect(owner(world).client.post(f"/api/integrations/{integration['id']}/test"), 200, "the connection test")
    assert body.get("ok") is True, f"expected ok true from the connection test, got {body}"


@when(
    parsers.parse('"{name}" connects BillionMail with an API key the instance does not know'),
    target_fixture="refused_name",
)
def connect_billionmail_with_unknown_key(world: World, name: str) -> str:
    refused_name = f"refused {uuid.uuid4().hex[:8]}"
    world.response = create_billionmail(world, world.user(name), UNKNOWN_KEY, refused_name)
    return refused_name


@then('the BillionMail connection is refused as "connection_failed" and no integration is stored')
def billionmail_connection_refused(world: World, refused_name: str) -> None:
    response = world.last_response()
    assert (response.status_code, error_code(response)) == (422, "connection_failed"), (
        f"BillionMail answers a refused key inside HTTP 200; expected 422 connection_failed: {describe(response)}"
    )
    listed = all_pages(owner(world).client, "/api/integrations", "integrations")
    names = [item["integrationName"] for item in listed]
    assert refused_name not in names, f"the refused integration was stored anyway: {names}"


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
def billionmail_sync_complete(world: World, billionmail_instance: BillionMailInstance) -> None:
    assert_synced_everything(world.last_response(), billionmail_campaign_count(world, billionmail_instance.tenant_id))


def billionmail_listed(world: World) -> list[dict[str, Any]]:
    integration = integration_of(world, "BillionMail")
    return all_pages(owner(world).client, f"/api/integrations/billionmail/{integration['id']}/campaigns", "campaigns")


@then("the service lists every campaign of the BillionMail instance exactly once")
def billionmail_listed_once(world: World, billionmail_instance: BillionMailInstance) -> None:
    expected = billionmail_campaign_count(world, billionmail_instance.tenant_id)
    assert_listed_once_each(billionmail_listed(world), "billionmailTaskId", expected)


@then("each synced BillionMail campaign shows the subject, status, recipients and sent count BillionMail shows")
def billionmail_fields_match(world: World, billionmail_instance: BillionMailInstance) -> None:
    mismatches = []
    for campaign in billionmail_listed(world):
        task = billionmail_task(world, billionmail_instance, campaign["billionmailTaskId"])
        shown = (campaign["subject"], campaign["status"], campaign["recipientCount"], campaign["sentCount"])
        truth = (task["subject"], TASK_STATES[task["task_process"]], task["recipient_count"], task["sent_count"])
        if shown != truth:
            mismatches.append(f"task {task['id']}: service {shown}, BillionMail {truth}")
    assert not mismatches, f"{len(mismatches)} synced campaigns differ from BillionMail: {mismatches[:5]}"


def create_billionmail_campaign(world: World, name: str, group_ids: list[int], start: datetime | None) -> NewCampaign:
    integration = integration_of(world, "BillionMail")
    subject = f"QA campaign {uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {"addresser": SENDER, "subject": subject, "templateId": 1, "groupIds": group_ids}
    if start is not None:
        body["startTime"] = start.isoformat()
    world.response = world.user(name).client.post(
        f"/api/integrations/billionmail/{integration['id']}/campaigns", json=body
    )
    return NewCampaign(subject, group_ids, start, world.response)


@when(
    parsers.parse(
        '"{name}" creates a BillionMail campaign to groups {first:d} and {second:d} scheduled {days:d} days ahead'
    ),
    target_fixture="new_campaign",
)
def create_scheduled_campaign(world: World, name: str, first: int, second: int, days: int) -> NewCampaign:
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return create_billionmail_campaign(world, name, [first, second], later)


@when(
    parsers.parse('"{name}" creates a BillionMail campaign to groups {first:d} and {second:d} to be sent now'),
    target_fixture="new_campaign",
)
def create_campaign_now(world: World, name: str, first: int, second: int) -> NewCampaign:
    return create_billionmail_campaign(world, name, [first, second], None)


@then(parsers.parse('the BillionMail campaign is created as "{status}"'))
def billionmail_campaign_created_as(world: World, status: str, new_campaign: NewCampaign) -> None:
    campaign = new_campaign.created
    shown = (campaign["subject"], campaign["groupIds"], campaign["status"])
    assert shown == (new_campaign.subject, new_campaign.group_ids, status), (
        f"expected (subject, groupIds, status) = {(new_campaign.subject, new_campaign.group_ids, status)}, got {shown}"
    )


@then("BillionMail holds the campaign with its subject, groups and start time, nothing sent")
def billionmail_holds_scheduled(
    world: World, new_campaign: NewCampaign, billionmail_instance: BillionMailInstance
) -> None:
    campaign = new_campaign.created
    task = billionmail_task(world, billionmail_instance, campaign["billionmailTaskId"])
    shown = (task["subject"], task["group_ids"], task["start_time"], task["task_process"], task["sent_count"])
    assert new_campaign.start is not None, "the campaign was created to be sent now, not scheduled"
    truth = (new_campaign.subject, new_campaign.group_ids, int(new_campaign.start.timestamp()), 0, 0)
    assert shown == truth, f"BillionMail's task (subject, groups, start, process, sent) is {shown}, expected {truth}"


@then("the service lists the new BillionMail campaign")
def billionmail_lists_new(world: World, new_campaign: NewCampaign) -> None:
    campaign = new_campaign.created
    ids = [item["billionmailTaskId"] for item in billionmail_listed(world)]
    assert campaign["billionmailTaskId"] in ids, f"the new task {campaign['billionmailTaskId']} is not listed"


@then("BillionMail has sent the campaign to every one of its recipients")
def billionmail_sent(world: World, new_campaign: NewCampaign, billionmail_instance: BillionMailInstance) -> None:
    campaign = new_campaign.created
    task = billionmail_task(world, billionmail_instance, campaign["billionmailTaskId"])
    assert task["recipient_count"] > 0, "the campaign has no recipients: the scenario's groups are empty"
    shown = (task["task_process"], task["sent_count"])
    assert shown == (2, task["recipient_count"]), (
        f"expected the task completed (2) with {task['recipient_count']} sent, BillionMail shows (process, sent) "
        f"{shown}"
    )


@then(parsers.parse('the service shows the new BillionMail campaign as "{status}" with every recipient sent'))
def billionmail_synced_sent(
    world: World, status: str, new_campaign: NewCampaign, billionmail_instance: BillionMailInstance
) -> None:
    campaign = new_campaign.created
    task = billionmail_task(world, billionmail_instance, campaign["billionmailTaskId"])
    listed = {item["billionmailTaskId"]: item for item in billionmail_listed(world)}
    synced = listed.get(campaign["billionmailTaskId"])
    assert synced is not None, f"the new task {campaign['billionmailTaskId']} is not listed after the sync"
    shown = (synced["status"], synced["recipientCount"], synced["sentCount"])
    truth = (status, task["recipient_count"], task["recipient_count"])
    assert shown == truth, f"expected (status, recipients, sent) {truth}, the service shows {shown}"


@given("two contact groups in the BillionMail instance:", target_fixture="contact_groups")
def two_billionmail_groups(
    world: World, billionmail_instance: BillionMailInstance, datatable: list[list[str]]
) -> ContactGroups:
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
    return ContactGroups([new_billionmail_group(world, billionmail_instance, rows) for rows in memberships], expected)


def new_billionmail_group(world: World, instance: BillionMailInstance, rows: list[tuple[str, int]]) -> int:
    """A contact group made through BillionMail's own API; its id (BillionMail's create returns none)."""
    name = f"qa group {uuid.uuid4().hex[:8]}"
    file_data = "\n".join(f"{email},{active}" for email, active in rows)
    billionmail_call(
        world, instance, "POST", "/contact/group/create", json={"name": name, "create_type": 1, "file_data": file_data}
    )
    groups = billionmail_call(world, instance, "GET", "/contact/group/all")["list"]
    return int(next(group["id"] for group in groups if group["name"] == name))


@when(
    parsers.parse('"{name}" creates a BillionMail campaign to those two groups to be sent now'),
    target_fixture="new_campaign",
)
def create_campaign_to_new_groups(world: World, name: str, contact_groups: ContactGroups) -> NewCampaign:
    return create_billionmail_campaign(world, name, list(contact_groups.ids), None)


@then(parsers.parse("the BillionMail campaign's recipient count is {count:d}, one per subscribed address"))
def billionmail_recipient_count(world: World, count: int, new_campaign: NewCampaign) -> None:
    campaign = new_campaign.created
    assert campaign["recipientCount"] == count, f"expected recipientCount {count}, got {campaign['recipientCount']}"


@then("that count equals the recipients BillionMail froze for the campaign")
def billionmail_count_matches_instance(
    world: World, new_campaign: NewCampaign, billionmail_instance: BillionMailInstance, contact_groups: ContactGroups
) -> None:
    campaign = new_campaign.created
    task = billionmail_task(world, billionmail_instance, campaign["billionmailTaskId"])
    assert set(task["recipients"]) == contact_groups.subscribed, (
        "BillionMail's recipients are not the distinct subscribed addresses of the groups"
    )
    assert campaign["recipientCount"] == len(task["recipients"]), (
        f"the service reports {campaign['recipientCount']} recipients, BillionMail has {len(task['recipients'])}"
    )


@then("after a sync the service still reports BillionMail's recipient count for the campaign")
def billionmail_count_after_sync(
    world: World, new_campaign: NewCampaign, billionmail_instance: BillionMailInstance
) -> None:
    campaign = new_campaign.created
    assert_synced_everything(
        sync_campaigns(owner(world), integration_of(world, "BillionMail")["id"]),
        billionmail_campaign_count(world, billionmail_instance.tenant_id),
    )
    task = billionmail_task(world, billionmail_instance, campaign["billionmailTaskId"])
    synced = {item["billionmailTaskId"]: item for item in billionmail_listed(world)}[campaign["billionmailTaskId"]]
    assert synced["recipientCount"] == len(task["recipients"]), (
        f"after the sync the service reports {synced['recipientCount']}, BillionMail {len(task['recipients'])}"
    )
