"""Marketing actions over real HTTP, checked in the sandbox's own state: BillionMail campaigns created,
sent and scheduled with recipients counted as BillionMail counts them; Mautic campaigns created and
published, contacts added to segments; every route scoped to the caller."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from harness.core.processes import ServerProcess
from tests.fixtures.connections import Connect
from tests.fixtures.service import ApiUser
from tests.integration_service.marketing import SENDER, BillionMailAdmin, billionmail

pytestmark = pytest.mark.db
SQL = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def user(make_user: Callable[[], ApiUser]) -> ApiUser:
    return make_user()


@pytest.fixture
def admin(sandbox: ServerProcess) -> Iterator[BillionMailAdmin]:
    admin = BillionMailAdmin(sandbox.url)
    yield admin
    admin.client.close()


def send(user: ApiUser, integration_id: str, group_ids: list[int], **fields: Any) -> httpx.Response:
    body = {"addresser": SENDER, "subject": f"Hello {uuid.uuid4().hex[:6]}", "templateId": 1, "groupIds": group_ids}
    return user.client.post(f"/api/integrations/billionmail/{integration_id}/campaigns", json={**body, **fields})


def task_state(control: httpx.Client, task_id: str) -> dict[str, Any]:
    state = control.get(f"/billionmail/instances/default/tasks/{task_id}")
    state.raise_for_status()
    return dict(state.json())


def test_send_now_counts_distinct_subscribed_recipients_and_the_task_is_sent(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client, admin: BillionMailAdmin, sql: SQL
) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b, c, d = (f"{name}-{tag}@example.org" for name in "abcd")
    # a: in both groups (one recipient, not two); b: unsubscribed in one group, subscribed in the other;
    # c: subscribed once; d: unsubscribed everywhere (no recipient).
    first = admin.group([(a, 1), (b, 0), (c, 1), (d, 0)])
    second = admin.group([(a, 1), (b, 1), (d, 0)])
    integration = billionmail(user, sandbox.url)

    created = send(user, integration["id"], [first, second])
    assert created.status_code == 201, created.text
    campaign = created.json()["campaign"]
    assert campaign["recipientCount"] == 3
    assert campaign["groupIds"] == [first, second]
    state = task_state(sandbox_control, campaign["billionmailTaskId"])
    assert sorted(state["recipients"]) == sorted([a, b, c])
    assert (state["task_process"], state["sent_count"]) == (2, 3)  # sent: its start time was now

    listed = user.client.get(f"/api/integrations/billionmail/{integration['id']}/campaigns").json()
    assert [item["billionmailTaskId"] for item in listed["campaigns"]] == [campaign["billionmailTaskId"]]


def test_recipients_of_seeded_groups_match_the_instances_own_contact_lists(
    user: ApiUser, sandbox: ServerProcess, admin: BillionMailAdmin
) -> None:
    groups = [1, 3]  # seeded, overlapping, with some unsubscribed rows
    expected = admin.subscribed(1) | admin.subscribed(3)
    all_rows = sum(len(admin.subscribed(g)) for g in groups)
    assert all_rows > len(expected)  # the groups overlap: counting rows would be wrong
    created = send(user, billionmail(user, sandbox.url)["id"], groups)
    assert created.status_code == 201, created.text
    assert created.json()["campaign"]["recipientCount"] == len(expected)


def test_a_campaign_for_later_is_scheduled_not_sent(
    user: ApiUser, sandbox: ServerProcess, sandbox_control: httpx.Client
) -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    created = send(user, billionmail(user, sandbox.url)["id"], [2], startTime=later.isoformat())
    assert created.status_code == 201, created.text
    campaign = created.json()["campaign"]
    assert campaign["status"] == "not_started"
    state = task_state(sandbox_control, campaign["billionmailTaskId"])
    assert (state["task_process"], state["sent_count"], state["start_time"]) == (0, 0, int(later.timestamp()))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"groupIds": []}, "body.groupIds"),
        ({"addresser": "not-an-address"}, "body.addresser"),
        ({"startTime": "2030-01-01T10:00:00"}, "body.startTime"),  # no time zone: ambiguous
        ({"templateId": 0}, "body.templateId"),
    ],
)
def test_bad_campaign_input_is_a_422_naming_the_field(
    user: ApiUser, sandbox: ServerProcess, fields: dict[str, Any], field: str
) -> None:
    integration = billionmail(user, sandbox.url)
    refused = send(user, integration["id"], [1], **fields)
    assert refused.status_code == 422, refused.text
    assert field in [problem["field"] for problem in refused.json()["error"]["details"]]


def test_a_start_time_in_the_past_and_an_unknown_group_are_refused_clearly(
    user: ApiUser, sandbox: ServerProcess, sql: SQL
) -> None:
    integration = billionmail(user, sandbox.url)
    past = send(user, integration["id"], [1], startTime=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    assert past.status_code == 422
    assert "startTime is in the past" in past.json()["error"]["message"]
    unknown = send(user, integration["id"], [987654])
    assert unknown.status_code == 422, unknown.text
    assert "Contact group not found: 987654" in unknown.json()["error"]["message"]
    row = sql.execute("SELECT count(*) FROM billionmail_campaigns WHERE integration_id = %s", [integration["id"]])
    assert row.fetchone() == (0,)


def test_mautic_campaign_created_then_published_is_so_in_mautic(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client
) -> None:
    integration = connect(user, "mautic")
    base = f"/api/integrations/mautic/{integration['id']}"
    name = f"Welcome series {uuid.uuid4().hex[:6]}"
    created = user.client.post(f"{base}/campaigns", json={"name": name, "segmentIds": [1, 2]})
    assert created.status_code == 201, created.text
    campaign = created.json()["campaign"]
    assert (campaign["name"], campaign["isPublished"]) == (name, False)
    shown = sandbox_control.get(f"/mautic/instances/default/campaigns/{campaign['mauticCampaignId']}").json()
    assert (shown["name"], shown["isPublished"], [s["id"] for s in shown["lists"]]) == (name, False, [1, 2])

    published = user.client.post(f"{base}/campaigns/{campaign['mauticCampaignId']}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["campaign"]["isPublished"] is True
    shown = sandbox_control.get(f"/mautic/instances/default/campaigns/{campaign['mauticCampaignId']}").json()
    assert shown["isPublished"] is True
    listed = user.client.get(f"{base}/campaigns", params={"published": "true"}).json()["campaigns"]
    assert [item["mauticCampaignId"] for item in listed] == [campaign["mauticCampaignId"]]

    missing = user.client.post(f"{base}/campaigns/99999999/publish", json={"isPublished": True})
    assert missing.status_code == 422
    assert "Item was not found." in missing.json()["error"]["message"]


def test_contacts_added_to_a_mautic_segment_are_in_it(
    user: ApiUser, connect: Connect, sandbox_control: httpx.Client
) -> None:
    integration = connect(user, "mautic")
    url = f"/api/integrations/mautic/{integration['id']}/segments/4/contacts"
    added = user.client.post(url, json={"contactIds": [5, 7, 5]})
    assert added.status_code == 200, added.text
    assert added.json() == {"segmentId": 4, "addedContactIds": [5, 7]}
    segment = sandbox_control.get("/mautic/instances/default/segments/4").json()
    assert {5, 7} <= set(segment["contact_ids"])

    unknown = user.client.post(url, json={"contactIds": [9, 99999999]})
    assert unknown.status_code == 422
    assert "contact 99999999" in unknown.json()["error"]["message"]
    assert "added before it: [9]" in unknown.json()["error"]["message"]


def test_another_users_integration_is_a_404_on_every_route(
    make_user: Callable[[], ApiUser], connect: Connect, sandbox: ServerProcess
) -> None:
    owner, other = make_user(), make_user()
    mail, mautic = billionmail(owner, sandbox.url), connect(owner, "mautic")
    calls = [
        ("POST", f"/api/integrations/billionmail/{mail['id']}/campaigns", {"addresser": SENDER, "subject": "x",
                                                                          "templateId": 1, "groupIds": [1]}),
        ("GET", f"/api/integrations/billionmail/{mail['id']}/campaigns", None),
        ("POST", f"/api/integrations/mautic/{mautic['id']}/campaigns", {"name": "x"}),
        ("POST", f"/api/integrations/mautic/{mautic['id']}/campaigns/1/publish", None),
        ("POST", f"/api/integrations/mautic/{mautic['id']}/segments/1/contacts", {"contactIds": [1]}),
        ("GET", f"/api/integrations/mautic/{mautic['id']}/campaigns", None),
        ("POST", f"/api/integrations/{mautic['id']}/test", None),
    ]  # fmt: skip
    for method, path, body in calls:
        response = other.client.request(method, path, json=body)
        assert response.status_code == 404, (path, response.text)
    # The right user, the wrong provider: a Mautic integration is not a BillionMail one.
    wrong_kind = owner.client.get(f"/api/integrations/billionmail/{mautic['id']}/campaigns")
    assert wrong_kind.status_code == 404
