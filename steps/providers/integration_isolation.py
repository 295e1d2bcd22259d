"""Steps of the integration-testing scenarios (INT-01..05) on what each integration leaves behind: the sync
history checked against what every sync really answered, and one user's integrations, logs and records kept
from another user's attempts. The integrations, syncs and faults are set up by integration_testing.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pytest_bdd import parsers, then

from steps.common import ApiUser, World, describe, error_code
from steps.providers.integration_testing import Linked, LinkedIntegrations, sync_body
from steps.providers.marketing_instances import (
    SENDER,
    expect,
    owner,
)

# --- the sync history ----------------------------------------------------------------------------


def logs_of(user: ApiUser, integration_id: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": 200}
    if integration_id is not None:
        params["integrationId"] = integration_id
    return dict(expect(user.client.get("/api/integrations/logs", params=params), 200, "GET /api/integrations/logs"))


@then(
    parsers.re(
        r'the sync history of "(?P<name>[^"]+)" for (?P<label>\w+) holds (?P<count>\d+) logs?, the newest '
        r'"(?P<status>\w+)" with (?P<synced>\d+) records synced(?P<error> and the provider\'s error)?$'
    )
)
def sync_history_of(
    world: World,
    linked_integrations: LinkedIntegrations,
    name: str,
    label: str,
    count: str,
    status: str,
    synced: str,
    error: str,
) -> None:
    item = linked_integrations.get(label)
    listed = logs_of(world.user(name), item.integration_id)
    assert listed["total"] == int(count), f"expected {count} logs of {label}, found {listed['total']}: {listed['logs']}"
    newest = listed["logs"][0]
    shown = (newest["integrationType"], newest["syncType"], newest["status"], newest["syncedRecords"])
    wanted = (item.provider.upper(), item.data_type, status, int(synced))
    assert shown == wanted, f"the newest log of {label} shows (type, syncType, status, synced) {shown}, not {wanted}"
    assert newest["completedAt"], f"the newest log of {label} was never completed: {newest}"
    if error:
        assert newest["errorMessage"], f"the {status} run of {label} logs no error message"
    else:
        assert newest["errorMessage"] is None, f"a {status} run logs an error: {newest['errorMessage']!r}"


@then(parsers.re(r"every log of (?P<label>\w+) matches what its sync answered$"))
def logs_match_answers(world: World, linked_integrations: LinkedIntegrations, label: str) -> None:
    """One log per run that ran (a 409 did not run), with the counts and outcome that run answered."""
    ran = [r.json()["result"] for r in linked_integrations.answers(label) if r.status_code in (200, 502)]
    answered = Counter((r["status"], r["totalRecords"], r["syncedRecords"], r["failedRecords"]) for r in ran)
    listed = logs_of(owner(world), linked_integrations.get(label).integration_id)["logs"]
    logged = Counter((log["status"], log["totalRecords"], log["syncedRecords"], log["failedRecords"]) for log in listed)
    assert logged == answered, f"{label}: runs answered {dict(answered)}, but the logs say {dict(logged)}"


# --- one user's integration, another user's attempts ------------------------------------------------


def attempts(item: Linked) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """What another user might try on the integration: method, path and body, by the feature's wording."""
    one = f"/api/integrations/{item.integration_id}"
    campaign = {"addresser": SENDER, "subject": "hijacked", "templateId": 1, "groupIds": [1]}
    return {
        "read it": ("GET", one, None),
        "rename it": ("PATCH", one, {"integrationName": "taken over"}),
        "replace its API key": ("PATCH", one, {"apiKey": "bm-attackers-own-key"}),
        "test its connection": ("POST", f"{one}/test", None),
        "sync it": ("POST", "/api/integrations/sync", sync_body(item)),
        "read its campaigns": ("GET", item.records_path, None),
        "create a campaign with it": ("POST", item.records_path, campaign),
        "delete it": ("DELETE", one, None),
    }


@then(parsers.re(r'"(?P<name>[^"]+)" is answered 404 "not_found" for each of these on (?P<label>\w+):$'))
def answered_404_for_each(
    world: World, linked_integrations: LinkedIntegrations, name: str, label: str, datatable: list[list[str]]
) -> None:
    intruder, possible = world.user(name), attempts(linked_integrations.get(label))
    for (action,) in datatable[1:]:
        assert action in possible, f"unknown action {action!r}; known: {sorted(possible)}"
        method, path, body = possible[action]
        response = intruder.client.request(method, path, json=body)
        assert (response.status_code, error_code(response)) == (404, "not_found"), (
            f'"{name}" tried to {action}: expected 404 not_found, as for an integration that does not exist: '
            f"{describe(response)}"
        )


@then(parsers.re(r'the integration list of "(?P<name>[^"]+)" does not show (?P<label>\w+)$'))
def list_does_not_show(world: World, linked_integrations: LinkedIntegrations, name: str, label: str) -> None:
    listed = expect(world.user(name).client.get("/api/integrations"), 200, "GET /api/integrations")
    ids = [integration["id"] for integration in listed["integrations"]]
    assert linked_integrations.get(label).integration_id not in ids, (
        f'"{name}" is shown {label}, another user\'s integration'
    )


@then(
    parsers.re(
        r'the sync history of "(?P<name>[^"]+)" shows none of "(?P<holder>[^"]+)"\'s runs, even when asked for '
        r"(?P<label>\w+) by its id$"
    )
)
def history_shows_none_of_others(
    world: World, linked_integrations: LinkedIntegrations, name: str, holder: str, label: str
) -> None:
    viewer, theirs = world.user(name), logs_of(world.user(holder))
    assert theirs["total"] >= 1, f'precondition: "{holder}" has sync logs to hide'
    hidden = {log["id"] for log in theirs["logs"]}
    for integration_id in (None, linked_integrations.get(label).integration_id):
        seen = logs_of(viewer, integration_id)
        leaked = hidden & {log["id"] for log in seen["logs"]}
        assert not leaked, f'"{name}" sees {len(leaked)} of "{holder}"\'s sync logs (integrationId={integration_id})'
        assert seen["total"] == 0, f'"{name}" has no integrations, yet sees {seen["total"]} sync logs'


@then(
    parsers.re(
        r'(?P<label>\w+) of "(?P<name>[^"]+)" is unchanged, still works and has logs of '
        r"(?:her|his|their) own syncs only$"
    )
)
def still_intact(world: World, linked_integrations: LinkedIntegrations, label: str, name: str) -> None:
    user, item = world.user(name), linked_integrations.get(label)
    integration = expect(user.client.get(f"/api/integrations/{item.integration_id}"), 200, f"{label} for its owner")
    assert integration["integration"]["integrationName"] == label, f"{label} was renamed: {integration}"
    tested = user.client.post(f"/api/integrations/{item.integration_id}/test")
    assert tested.status_code == 200, f"{label}'s own key no longer works: {describe(tested)}"
    runs = sum(1 for r in linked_integrations.answers(label) if r.status_code in (200, 502))
    logged = logs_of(user, item.integration_id)["total"]
    assert logged == runs, f"{label} ran {runs} syncs for its owner but has {logged} logs"
