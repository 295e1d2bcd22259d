"""BillionMail simulator over real HTTP: envelope-only errors, paging, tasks, recipients, faults."""

from __future__ import annotations

import httpx
import pytest

from harness.core.processes import ServerProcess
from tests.provider_sandbox.helpers import fault
from tests.provider_sandbox.marketing_helpers import BM_API, BM_KEY, bm, bm_group, bm_ok, bm_task

PROCESS = {"not_started": 0, "completed": 2}


def test_connection_test_succeeds_with_the_api_key(http: httpx.Client) -> None:
    data = bm_ok(http, "GET", "/current-user")
    assert data["account"]["username"] == "billionmail"


@pytest.mark.parametrize(
    ("headers", "msg"),
    [
        ({}, "no authorization"),
        ({"Authorization": "Bearer wrong-key"}, ""),
        # BillionMail's documented X-API-Key header is for /api/batch_mail/api/send only.
        ({"X-API-Key": BM_KEY}, "no authorization"),
    ],
)
def test_bad_credentials_fail_inside_an_http_200(http: httpx.Client, headers: dict[str, str], msg: str) -> None:
    response = http.get(f"{BM_API}/current-user", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"success": False, "code": 401, "msg": msg, "data": None}


def test_task_pages_cover_every_task_exactly_once(http: httpx.Client) -> None:
    seen: list[int] = []
    page, total = 1, None
    while True:
        data = bm_ok(http, "GET", "/batch_mail/task/list", params={"page": page, "page_size": 100})
        total = data["total"] if total is None else total
        assert data["total"] == total
        if not data["list"]:
            break
        seen.extend(task["id"] for task in data["list"])
        page += 1
    assert total is not None
    assert total >= 600
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen, reverse=True)  # newest first, as BillionMail lists them


def test_validation_errors_are_envelopes_with_code_412(http: httpx.Client) -> None:
    missing = bm(http, "GET", "/batch_mail/task/list", params={"page": 1})
    assert (missing["success"], missing["code"]) == (False, 412)
    assert "page_size" in missing["msg"]
    not_json = bm(
        http, "POST", "/batch_mail/task/create", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert (not_json["success"], not_json["code"]) == (False, 412)
    no_template = bm_task(http, [1], template_id=999)
    assert (no_template["success"], no_template["code"], no_template["msg"]) == (False, 400, "Template not found")
    unknown = bm(http, "GET", "/batch_mail/task/find", params={"id": 99_999_999})
    assert (unknown["success"], unknown["code"]) == (False, 404)


def test_recipients_are_distinct_subscribed_addresses_across_groups(http: httpx.Client) -> None:
    first = bm_group(http, ["a@list.example", "b@list.example,0", "c@list.example", "E@list.example,0", "junk"])
    second = bm_group(http, ["c@list.example", "d@list.example", "e@list.example,0"])
    info = bm_ok(http, "GET", "/contact/group/info", params={"group_id": first})
    assert (info["total_count"], info["active_count"], info["unsubscribe_count"]) == (4, 2, 2)

    created = bm_task(http, [first, second])
    assert created["success"] is True, created
    task = bm_ok(http, "GET", "/batch_mail/task/find", params={"id": created["data"]["id"]})
    assert task["recipient_count"] == 3  # a, c (in both groups, once), d; b and e unsubscribed
    state = http.get(f"/_sandbox/billionmail/instances/default/tasks/{task['id']}").json()
    assert sorted(state["recipients"]) == ["a@list.example", "c@list.example", "d@list.example"]

    newer_style = bm_task(http, [], group_id=first)  # newer servers take one group_id
    assert bm_ok(http, "GET", "/batch_mail/task/find", params={"id": newer_style["data"]["id"]})["recipient_count"] == 2
    only_unsubscribed = bm_group(http, ["x@list.example,0"])
    refused = bm_task(http, [only_unsubscribed])
    assert (refused["success"], refused["code"]) == (False, 400)


def test_send_now_and_scheduled_send_are_visible_afterwards(http: httpx.Client) -> None:
    group = bm_group(http, ["s1@send.example", "s2@send.example", "s3@send.example,0"])
    now_id = bm_task(http, [group])["data"]["id"]
    later_id = bm_task(http, [group], start_in_s=300)["data"]["id"]

    listed = bm_ok(http, "GET", "/batch_mail/task/list", params={"page": 1, "page_size": 5})["list"]
    by_id = {task["id"]: task for task in listed}
    sent, scheduled = by_id[now_id], by_id[later_id]
    assert (sent["task_process"], sent["sent_count"], sent["recipient_count"]) == (PROCESS["completed"], 2, 2)
    assert (sent["progress"], sent["unsent_count"]) == (100, 0)
    assert (scheduled["task_process"], scheduled["sent_count"]) == (PROCESS["not_started"], 0)

    http.post("/_sandbox/clock/advance", json={"seconds": 301})
    state = http.get(f"/_sandbox/billionmail/instances/default/tasks/{later_id}").json()
    assert (state["task_process"], state["sent_count"]) == (PROCESS["completed"], 2)
    resumed = bm(http, "POST", "/batch_mail/task/resume", json={"task_id": now_id})
    assert (resumed["success"], resumed["code"]) == (False, 400)
    assert "already completed" in resumed["msg"]


def test_a_rotated_key_stops_working(http: httpx.Client) -> None:
    secondary = next(i for i in http.get("/_sandbox/billionmail/instances").json() if not i["default"])
    first = http.post(f"/_sandbox/billionmail/instances/{secondary['tenant_id']}/key").json()["api_key"]
    assert bm(http, "GET", "/current-user", key=first)["success"] is True
    second = http.post(f"/_sandbox/billionmail/instances/{secondary['tenant_id']}/key").json()["api_key"]
    assert bm(http, "GET", "/current-user", key=first)["code"] == 401
    tasks = bm(http, "GET", "/batch_mail/task/list", key=second, params={"page": 1, "page_size": 100})["data"]
    assert tasks["total"] == 12  # each instance has its own data


def test_faults_keep_the_http_200_envelope(http: httpx.Client) -> None:
    fault(http, provider="billionmail", kind="rate_limit", retry_after=9)
    limited = http.get(f"{BM_API}/current-user", headers={"Authorization": f"Bearer {BM_KEY}"})
    assert (limited.status_code, limited.headers["Retry-After"]) == (200, "9")
    assert limited.json()["code"] == 509
    fault(http, provider="billionmail", kind="error", status=503, path="/task/list", page=3)
    pages = [bm(http, "GET", "/batch_mail/task/list", params={"page": p, "page_size": 10}) for p in (2, 3, 4)]
    assert [(p["success"], p["code"]) for p in pages] == [(True, 0), (False, 503), (True, 0)]
    fault(http, provider="billionmail", kind="malformed")
    with pytest.raises(ValueError, match="Expecting"):
        http.get(f"{BM_API}/current-user", headers={"Authorization": f"Bearer {BM_KEY}"}).json()


def test_the_api_key_never_reaches_logs_or_recordings(http: httpx.Client, sandbox_process: ServerProcess) -> None:
    bm_ok(http, "GET", "/current-user")
    http.get(f"{BM_API}/current-user", headers={"X-API-Key": BM_KEY})  # the wrong header, as a service might
    recorded = http.get("/_sandbox/requests", params={"provider": "billionmail"}).json()
    assert recorded[-2]["headers"]["authorization"] == "Bearer sandbox-..."
    assert recorded[-1]["headers"]["x-api-key"] == "sandbox-..."
    assert BM_KEY not in str(recorded) + sandbox_process.log_tail(200_000)
