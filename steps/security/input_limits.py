"""Checklist steps: the limits on what a user may send and how it is kept (issue 13).

customData's documented depth limit, enforced before anything is stored (SEC-06), and values an older
version stored that must still read (SEC-06); secrets nested anywhere in customData (SEC-01); the OAuth
flow bound to the browser that started it (SECT-04, XERO-01); script in the pages of an OAuth flow a
browser visits (SECT-07); two writers at once on one integration (INT-05). HTTP throughout, SQL where
the item is about what the database holds.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pytest_bdd import parsers, then, when

from harness.core.paths import PROJECT_ROOT
from harness.stack.oauth import start_in_browser
from steps.common import ApiUser, World, describe, error_code
from steps.support.security import (
    INTEGRATIONS,
    XSS_PAYLOADS,
    assert_not_renderable,
    create_integration,
    delete_afterwards,
    expect_error,
    integration_of,
    leaks,
    make_canaries,
    sql_row,
)

WRITER_ROUNDS = 10


# --- SEC-06: customData's depth limit -------------------------------------------------------------


def documented_depth() -> int:
    """The depth limit INTEGRATIONS.md promises: the scenario holds the service to its documentation."""
    text = (PROJECT_ROOT / "INTEGRATIONS.md").read_text(encoding="utf-8")
    found = re.search(r"customData[^\n]*?nest(?:ed|s)? at most (\d+)\s+levels", text)
    assert found, "INTEGRATIONS.md does not document customData's depth limit ('... nested at most N levels')"
    return int(found.group(1))


def nested(levels: int) -> str:
    """customData `levels` objects deep, as JSON text (a client's own encoder gives up long before 3000)."""
    return '{"n":' * (levels - 1) + '{"leaf":1}' + "}" * (levels - 1)


def _levels(depth: str) -> int:
    if depth == "one level deeper than INTEGRATIONS.md allows":
        return documented_depth() + 1
    return int(depth.split()[0])


def _send_json_text(client: httpx.Client, method: str, path: str, text: str) -> httpx.Response:
    return client.request(method, path, content=text, headers={"Content-Type": "application/json"})


@when(
    parsers.re(r'"(?P<name>[^"]+)" creates an integration, and changes hers, with customData nested (?P<depth>.+)$'),
    target_fixture="answers",
)
def limits_send_deep_custom_data(world: World, name: str, depth: str) -> list[httpx.Response]:
    user, custom_data = world.user(name), nested(_levels(depth))
    label = f"qa-deep-{uuid.uuid4().hex[:8]}"
    create = json.dumps({"integrationType": "XERO", "integrationName": label})[:-1] + f', "customData": {custom_data}}}'
    change = '{"customData": ' + custom_data + "}"
    own = world.integrations[name]["id"]
    return [
        _send_json_text(user.client, "POST", INTEGRATIONS, create),
        _send_json_text(user.client, "PATCH", f"{INTEGRATIONS}/{own}", change),
    ]


@then(parsers.parse('both are answered {status:d} "{code}", naming customData when the body could be read'))
def limits_refused(answers: list[httpx.Response], status: int, code: str) -> None:
    for answer in answers:
        expect_error(answer, status, code)
        if status == 422:
            fields = [detail.get("field", "") for detail in answer.json()["error"]["details"] or []]
            assert "body.customData" in fields, f"expected the error to name customData: {describe(answer)}"


@then(parsers.parse('"{name}" has no integration but her own, which reads back unchanged'))
def limits_nothing_stored(world: World, name: str) -> None:
    client, own = world.user(name).client, world.integrations[name]
    listed = client.get(INTEGRATIONS, params={"limit": 200})
    assert listed.status_code == 200, f"listing failed after the refused writes: {describe(listed)}"
    assert [item["id"] for item in listed.json()["integrations"]] == [own["id"]], f"stored anyway: {listed.text[:500]}"
    read = client.get(f"{INTEGRATIONS}/{own['id']}")
    assert read.status_code == 200, describe(read)
    assert read.json()["integration"]["customData"] == own["customData"], f"changed anyway: {describe(read)}"


_STORED_BY_AN_OLDER_VERSION = {
    "300 levels deep": nested(300),
    "3000 levels deep": nested(3000),
    "holding a nested password": '{"x": {"password": "qaCanaryOldPassword"}}',
}


@when(
    parsers.parse('"{name}" has an integration whose customData an older version stored {stored}'),
    target_fixture="old_integration",
)
def limits_store_as_an_older_version(world: World, request: pytest.FixtureRequest, name: str, stored: str) -> str:
    user = world.user(name)
    row = sql_row(
        world,
        "INSERT INTO integrations_credentials (user_id, integration_type, integration_name, custom_data) "
        "SELECT id, 'XERO', %s, %s::jsonb FROM users WHERE name = %s RETURNING id::text",
        f"qa-old-{uuid.uuid4().hex[:8]}",
        _STORED_BY_AN_OLDER_VERSION[stored],
        user.account,
    )
    assert row is not None, f"could not store the old row for {user.account}"
    delete_afterwards(request, user, row[0])
    return str(row[0])


@then(
    parsers.parse(
        '"{name}" reads, lists and renames it, each answered 200 with customData null and no stored secret shown'
    )
)
def limits_old_row_reads(world: World, name: str, old_integration: str) -> None:
    client, path = world.user(name).client, f"{INTEGRATIONS}/{old_integration}"
    read, listed = client.get(path), client.get(INTEGRATIONS, params={"limit": 200})
    renamed = client.patch(path, json={"integrationName": f"qa-renamed-{uuid.uuid4().hex[:6]}"})
    for answer in (read, listed, renamed):
        assert answer.status_code == 200, f"a stored value broke a read: {describe(answer)}"
        assert "qaCanaryOldPassword" not in answer.text, f"a stored secret was shown: {describe(answer)}"
    shown = [item for item in listed.json()["integrations"] if item["id"] == old_integration]
    for integration in (read.json()["integration"], renamed.json()["integration"], *shown):
        assert integration["customData"] is None, f"expected customData null: {integration['customData']!r:.300}"


@then(parsers.parse('"{name}" can replace that customData, and reads the new value back'))
def limits_old_row_replaced(world: World, name: str, old_integration: str) -> None:
    client, path = world.user(name).client, f"{INTEGRATIONS}/{old_integration}"
    replaced = client.patch(path, json={"customData": {"tenantId": "qa-tenant"}})
    assert replaced.status_code == 200, describe(replaced)
    assert client.get(path).json()["integration"]["customData"] == {"tenantId": "qa-tenant"}


# --- SEC-01: secrets nested in customData ---------------------------------------------------------

NestedSecrets = tuple[dict[str, str], list[httpx.Response]]  # the canaries sent, and the answers
_NESTED_SECRET_PATHS = ("customData.account.password", "customData.auth.apiKey", "customData.mailboxes[0].clientSecret")


def _with_nested_secrets(canaries: dict[str, str]) -> dict[str, Any]:
    return {
        "account": {"login": "qa", "password": canaries["password"]},
        "auth": {"apiKey": canaries["apiKey"]},
        "mailboxes": [{"clientSecret": canaries["clientSecret"]}],
    }


@when(
    parsers.parse('"{name}" sends canary secrets nested in customData, creating an integration and changing hers'),
    target_fixture="nested_secrets",
)
def limits_send_nested_secrets(world: World, request: pytest.FixtureRequest, name: str) -> NestedSecrets:
    user, canaries = world.user(name), make_canaries("password", "apiKey", "clientSecret")
    custom_data = _with_nested_secrets(canaries)
    created = create_integration(request, user, f"qa-nested-{uuid.uuid4().hex[:8]}", customData=custom_data)
    changed = user.client.patch(f"{INTEGRATIONS}/{world.integrations[name]['id']}", json={"customData": custom_data})
    return canaries, [created, changed]


@then("each is answered 422 naming the path of every secret-looking key, without echoing a canary")
def limits_nested_secrets_refused(nested_secrets: NestedSecrets) -> None:
    canaries, answers = nested_secrets
    for answer in answers:
        expect_error(answer, 422, "validation_failed")
        messages = " ".join(detail["message"] for detail in answer.json()["error"]["details"] or [])
        missing = [path for path in _NESTED_SECRET_PATHS if path not in messages]
        assert not missing, f"the error does not name {missing}: {describe(answer)}"
        assert not leaks(answer.text, canaries), f"the error echoes a canary: {describe(answer)}"


@then(parsers.parse('no row of "{name}" in the database holds a canary'))
def limits_no_canary_stored(world: World, name: str, nested_secrets: NestedSecrets) -> None:
    rows = sql_row(
        world,
        "SELECT coalesce(string_agg(to_jsonb(c)::text, ' '), '') FROM integrations_credentials c "
        "JOIN users u ON u.id = c.user_id WHERE u.name = %s",
        world.user(name).account,
    )[0]
    stored = leaks(rows, nested_secrets[0])
    assert not stored, f"stored in the database: {stored}"


# --- SECT-04 / XERO-01: the OAuth flow bound to its browser -----------------------------------------


@when(
    parsers.parse('"{name}" starts connecting Xero in her browser and the consent URL is completed in another browser'),
    target_fixture="two_browsers",
)
def limits_consent_in_another_browser(world: World, name: str) -> dict[str, Any]:
    own, other = world.client(base_url=""), world.client(base_url="")
    consent_url = start_in_browser(world.user(name).client, own, "xero").headers["Location"]
    back = other.get(consent_url)
    assert back.status_code == 302, f"expected the consent page to send the other browser back: {describe(back)}"
    return {"own": own, "consent_url": consent_url, "refused": other.get(back.headers["Location"])}


@then(parsers.parse('that browser\'s return to the callback is refused 400, and "{name}" has no integration'))
def limits_other_browser_refused(world: World, name: str, two_browsers: dict[str, Any]) -> None:
    expect_error(two_browsers["refused"], 400, "bad_request", what="another browser completed Alice's flow")
    listed = world.user(name).client.get(INTEGRATIONS).json()
    assert listed["total"] == 0, f"the other browser's organisation was linked: {listed}"


@then(parsers.parse('"{name}"\'s own browser can still finish connecting Xero'))
def limits_own_browser_finishes(
    world: World, request: pytest.FixtureRequest, name: str, two_browsers: dict[str, Any]
) -> None:
    own = two_browsers["own"]
    back = own.get(two_browsers["consent_url"])
    finished = own.get(back.headers["Location"])
    assert finished.status_code == 200, f"the browser that started the flow could not finish it: {describe(finished)}"
    delete_afterwards(request, world.user(name), integration_of(finished)["id"])


# --- SECT-07: script in the pages of an OAuth flow ------------------------------------------------


@when(
    parsers.parse(
        '"{name}" connects Xero under a name holding a script payload, and another flow of hers comes back '
        "with a script payload as the provider's error"
    ),
    target_fixture="oauth_pages",
)
def limits_script_through_oauth(world: World, request: pytest.FixtureRequest, name: str) -> list[httpx.Response]:
    user, payload = world.user(name), XSS_PAYLOADS[0]
    browser = world.client(base_url="")
    started = start_in_browser(user.client, browser, "xero", integrationName=payload)
    connected = browser.get(browser.get(started.headers["Location"]).headers["Location"])
    if connected.status_code == 200:
        delete_afterwards(request, user, integration_of(connected)["id"])
    declined = start_in_browser(user.client, browser, "xero")
    state = parse_qs(urlsplit(declined.headers["Location"]).query)["state"][0]
    refused = browser.get(
        f"{world.target.service_url}{INTEGRATIONS}/xero/callback", params={"state": state, "error": payload}
    )
    return [started, connected, declined, refused]


@then("every answer the browser saw is JSON, the name exactly as sent, and the browser told not to render it")
def limits_oauth_pages_are_data(oauth_pages: list[httpx.Response]) -> None:
    started, connected, declined, refused = oauth_pages
    for answer in oauth_pages:
        assert answer.status_code != 500, describe(answer)
        assert_not_renderable(answer)
    assert (started.status_code, declined.status_code) == (302, 302), f"{describe(started)} / {describe(declined)}"
    assert connected.status_code == 200, f"expected the flow to connect: {describe(connected)}"
    assert integration_of(connected)["integrationName"] == XSS_PAYLOADS[0], "the name was altered"
    expect_error(refused, 400, "bad_request")
    assert error_code(refused) == "bad_request"


# --- INT-05: two writers at once on one integration -----------------------------------------------


def at_once(*requests: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Each request from its own thread, all released together: real concurrency, not interleaving by hand."""
    start = threading.Barrier(len(requests))

    def send(request: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return request()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def _new_integration(request: pytest.FixtureRequest, user: ApiUser) -> str:
    created = create_integration(request, user, f"qa-writers-{uuid.uuid4().hex[:8]}")
    assert created.status_code == 201, describe(created)
    return f"{INTEGRATIONS}/{integration_of(created)['id']}"


@when(
    parsers.parse('"{name}" renames an integration and retargets its customData at once, {rounds:d} times'),
    target_fixture="lost_writes",
)
def limits_two_fields_at_once(world: World, request: pytest.FixtureRequest, name: str, rounds: int) -> list[str]:
    user = world.user(name)
    path, lost = _new_integration(request, user), []
    for round_ in range(rounds):
        expected = (f"qa-renamed-{round_}", {"tenantId": f"qa-tenant-{round_}"})
        answers = at_once(
            partial(user.client.patch, path, json={"integrationName": expected[0]}),
            partial(user.client.patch, path, json={"customData": expected[1]}),
        )
        assert all(answer.status_code == 200 for answer in answers), [describe(answer) for answer in answers]
        final = integration_of(user.client.get(path))
        if (final["integrationName"], final["customData"]) != expected:
            lost.append(f"round {round_}: {final['integrationName']!r}, {final['customData']!r}")
    return lost


@then("both changes landed every time")
def limits_no_write_lost(lost_writes: list[str]) -> None:
    assert not lost_writes, "one writer's change was lost:\n" + "\n".join(lost_writes)


@when(
    parsers.parse(
        '"{name}" sends two changes of one integration at once, both made from the same read with its ETag '
        "as If-Match, {rounds:d} times"
    ),
    target_fixture="same_read_rounds",
)
def limits_two_changes_from_one_read(
    world: World, request: pytest.FixtureRequest, name: str, rounds: int
) -> list[tuple[list[httpx.Response], httpx.Response]]:
    user = world.user(name)
    path, outcomes = _new_integration(request, user), []
    for round_ in range(rounds):
        read = user.client.get(path)
        assert "ETag" in read.headers, f"the integration's answer carries no ETag to send back: {describe(read)}"
        answers = at_once(
            *(
                partial(user.client.patch, path, json={"customData": {"tenantId": tenant}}, headers={"If-Match": etag})
                for tenant, etag in ((f"qa-a-{round_}", read.headers["ETag"]), (f"qa-b-{round_}", read.headers["ETag"]))
            )
        )
        outcomes.append((answers, user.client.get(path)))
    return outcomes


@then(
    'each time one change applied and the other was answered 412 "precondition_failed", '
    "and the integration holds the applied one"
)
def limits_one_applied_one_told(same_read_rounds: list[tuple[list[httpx.Response], httpx.Response]]) -> None:
    for round_, (answers, final) in enumerate(same_read_rounds):
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200, 412], f"round {round_}: " + " / ".join(describe(answer) for answer in answers)
        applied = next(answer for answer in answers if answer.status_code == 200)
        expect_error(next(answer for answer in answers if answer.status_code == 412), 412, "precondition_failed")
        held = integration_of(final)["customData"]
        assert held == integration_of(applied)["customData"], f"round {round_}: holds {held}, not the applied change"


@when(
    parsers.parse('"{name}" changes an integration while deleting it, {rounds:d} times'),
    target_fixture="change_delete_rounds",
)
def limits_change_while_deleting(
    world: World, request: pytest.FixtureRequest, name: str, rounds: int
) -> list[tuple[httpx.Response, httpx.Response, httpx.Response]]:
    user, outcomes = world.user(name), []
    for _ in range(rounds):
        path = _new_integration(request, user)
        changed, deleted = at_once(
            partial(user.client.patch, path, json={"customData": {"tenantId": "qa-late"}, "isActive": False}),
            partial(user.client.delete, path),
        )
        outcomes.append((changed, deleted, user.client.get(path)))
    return outcomes


@then("every delete was answered 204 and every change 200 or 404, never an error, and no integration came back")
def limits_delete_stands(change_delete_rounds: list[tuple[httpx.Response, httpx.Response, httpx.Response]]) -> None:
    for round_, (changed, deleted, after) in enumerate(change_delete_rounds):
        assert deleted.status_code == 204, f"round {round_}: {describe(deleted)}"
        assert changed.status_code in (200, 404), f"round {round_}: {describe(changed)}"
        assert after.status_code == 404, f"round {round_}: the deleted integration came back: {describe(after)}"
