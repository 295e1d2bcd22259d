"""Steps of the security testing items on what must not leak or get through (SECT-01, SECT-02, SECT-05,
SECT-06, SECT-07): canary secrets looked for in answers and in the service log, rate limiting, SQL injection,
script payloads. Where a SECT item repeats a SEC attack, its scenarios reuse the steps of
steps/security/secrets_https_cors.py and steps/security/attacks.py (sections "SEC-nn / SECT-nn"); the
canaries and answers they leave in the `canary_trail` fixture are read here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pytest_bdd import parsers, then, when

from steps.common import World, describe, error_code
from steps.support.security import (
    INTEGRATIONS,
    SECRET_FIELDS,
    XSS_PAYLOADS,
    CanaryTrail,
    assert_not_renderable,
    create_integration,
    delete_afterwards,
    expect_error,
    integration_of,
    leaks,
    make_canaries,
    sql_row,
)

# --- SECT-02: secrets in answers ------------------------------------------------------------------


@when(parsers.parse('"{name}" reads, lists and updates that integration'))
def security_read_list_update(world: World, canary_trail: CanaryTrail, name: str) -> None:
    user = world.user(name)
    integration_id = canary_trail.integration_id()
    renewed = make_canaries("apiKey")
    canary_trail.canaries.update({"renewedApiKey": renewed["apiKey"]})
    canary_trail.answers += [
        user.client.get(f"{INTEGRATIONS}/{integration_id}"),
        user.client.get(INTEGRATIONS),
        user.client.patch(f"{INTEGRATIONS}/{integration_id}", json={"integrationName": "qa-renamed", **renewed}),
    ]


@then("none of the answers holds a canary, in clear text or merely encoded")
def security_answers_hold_no_canary(canary_trail: CanaryTrail) -> None:
    for response in canary_trail.answers:
        assert response.status_code in (200, 201), f"expected a success: {describe(response)[:300]}"
        leaked = leaks(response.text, canary_trail.canaries)
        method, path = response.request.method, response.request.url.path
        assert not leaked, f"{method} {path} sent these secrets back to the client: {', '.join(leaked)}"


@then("the answers only say that each secret is set")
def security_answers_only_flag_secrets(canary_trail: CanaryTrail) -> None:
    integration_id = canary_trail.integration_id()
    for response in canary_trail.answers:
        body = response.json()
        shown = body.get("integration") or next(i for i in body["integrations"] if i["id"] == integration_id)
        exposed = [field for field in SECRET_FIELDS if field in shown]
        assert not exposed, f"{response.request.method} {response.request.url.path} has secret fields: {exposed}"
        unset = [
            f"has{f[:1].upper()}{f[1:]}" for f in SECRET_FIELDS if shown.get(f"has{f[:1].upper()}{f[1:]}") is not True
        ]
        assert not unset, f"expected each secret flagged as set, these are not true: {unset}"


# --- SECT-05: rate limiting -----------------------------------------------------------------------


@then(parsers.parse('"{name}" creating an integration is answered 429 "{code}" and creates nothing'))
def security_limited_write(world: World, name: str, code: str) -> None:
    user = world.user(name)
    response = user.client.post(INTEGRATIONS, json={"integrationType": "XERO", "integrationName": "qa-limited"})
    expect_error(response, 429, code)
    row = sql_row(
        world,
        "SELECT count(*) FROM integrations_credentials c JOIN users u ON u.id = c.user_id WHERE u.name = %s",
        user.account,
    )
    assert row[0] == 0, f"the refused request still created {row[0]} integration(s)"


@then(parsers.parse('"{name}" can still list his integrations'))
def security_other_user_unaffected(world: World, name: str) -> None:
    response = world.user(name).client.get(INTEGRATIONS)
    assert response.status_code == 200, f"another user's burst limited {name}: {describe(response)}"


# --- SECT-06: SQL injection -----------------------------------------------------------------------


@then(parsers.parse('"{name}" still reads her integration unchanged'))
def security_victim_unchanged(world: World, name: str) -> None:
    before = world.integrations[name]
    response = world.user(name).client.get(f"{INTEGRATIONS}/{before['id']}")
    assert response.status_code == 200, f"expected {name}'s integration still there: {describe(response)}"
    after = integration_of(response)
    changed = [key for key in ("integrationName", "isActive", "customData", "updatedAt") if after[key] != before[key]]
    assert not changed, f"{name}'s integration changed: {changed}"


_REFLECTIONS: dict[str, Callable[[httpx.Client, str], httpx.Response]] = {
    "an integration id": lambda client, p: client.get(f"{INTEGRATIONS}/{quote(p, safe='')}"),
    "a query parameter": lambda client, p: client.get(f"{INTEGRATIONS}/logs", params={"syncType": p}),
    "an unknown path": lambda client, p: client.get(f"/api/{quote(p, safe='')}"),
    "a JSON field": lambda client, p: client.post(INTEGRATIONS, json={"integrationType": p, "integrationName": p}),
    "a body that is not JSON": lambda client, p: client.post(
        INTEGRATIONS, content=f"<html><body>{p}</body></html>", headers={"Content-Type": "text/html"}
    ),
    # The one route a browser visits (sent there by the provider): it must not render what it is sent either.
    "the OAuth callback's state": lambda client, p: client.get(
        f"{INTEGRATIONS}/xero/callback", params={"state": p, "code": p, "error": p}
    ),
}


# --- SECT-07: XSS ---------------------------------------------------------------------------------


@when(parsers.re(r'"(?P<name>[^"]+)" sends a script payload in (?P<where>.+)'))
def security_reflect_script(world: World, name: str, where: str) -> None:
    world.response = _REFLECTIONS[where](world.user(name).client, XSS_PAYLOADS[0])


@then("the answer is a JSON error, with the browser told not to sniff or render it")
def security_reflection_is_json(world: World) -> None:
    response = world.last_response()
    assert 400 <= response.status_code < 500, f"expected a 4xx error: {describe(response)}"
    assert error_code(response), f"expected the API's error model: {describe(response)}"
    assert_not_renderable(response)


# --- SECT-01: canaries in the service log ---------------------------------------------------------


@when(
    parsers.parse(
        '"{name}" sends canary secrets through every route that takes one, where they work and where they fail'
    )
)
def security_canaries_through_routes(
    world: World, canary_trail: CanaryTrail, request: pytest.FixtureRequest, name: str
) -> None:
    _service_log(world)  # skipped before any canary is sent when the stage's log cannot be read
    user = world.user(name)
    canaries = make_canaries(*SECRET_FIELDS, "patchedKey", "stripeKey", "paypalId", "paypalSecret", "mailKey", "badKey")
    canaries |= make_canaries("bearer", "oauthCode", "oauthState")
    marker = f"qa-sect01-{uuid.uuid4().hex[:12]}"
    headers = {"X-Request-ID": marker}
    client = user.client
    answers = [create_integration(request, user, f"qa-{marker}", **{f: canaries[f] for f in SECRET_FIELDS})]
    integration_id = answers[0].json().get("integration", {}).get("id", str(uuid.uuid4()))
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("PATCH", f"{INTEGRATIONS}/{integration_id}", {"json": {"apiKey": canaries["patchedKey"]}}),
        ("POST", f"{INTEGRATIONS}/{integration_id}/test", {}),
        ("POST", f"{INTEGRATIONS}/sync", {"json": {"integrationId": integration_id, "dataType": "invoices"}}),
        *_creations_with_canaries(marker, canaries, world.sandbox_url()),
    ]
    for method, path, options in attempts:
        answers.append(client.request(method, path, headers=headers, **options))
    anonymous = world.client(headers=headers)
    answers.append(anonymous.get(INTEGRATIONS, headers={"Authorization": f"Bearer {canaries['bearer']}"}))
    callback = {"code": canaries["oauthCode"], "state": canaries["oauthState"]}
    answers.append(anonymous.get(f"{INTEGRATIONS}/xero/callback", params=callback))
    for response in answers[1:]:
        if response.status_code == 201 and response.request.method == "POST":
            delete_afterwards(request, user, integration_of(response)["id"])
    canary_trail.canaries, canary_trail.log_marker, canary_trail.answers = canaries, marker, answers


def _creations_with_canaries(
    marker: str, canaries: dict[str, str], sandbox_url: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """Integrations of four providers created with canary secrets (the Xero one refused: a key with a space)."""
    return [
        (
            "POST",
            INTEGRATIONS,
            {"json": {"integrationType": "STRIPE", "integrationName": marker, "apiKey": canaries["stripeKey"]}},
        ),
        (
            "POST",
            INTEGRATIONS,
            {
                "json": {
                    "integrationType": "PAYPAL",
                    "integrationName": marker,
                    "apiKey": canaries["paypalId"],
                    "apiSecret": canaries["paypalSecret"],
                }
            },
        ),
        (
            "POST",
            INTEGRATIONS,
            {
                "json": {
                    "integrationType": "BILLIONMAIL",
                    "integrationName": marker,
                    "apiKey": canaries["mailKey"],
                    "customData": {"baseUrl": f"{sandbox_url}/billionmail"},
                }
            },
        ),
        (
            "POST",
            INTEGRATIONS,
            {"json": {"integrationType": "XERO", "integrationName": marker, "apiKey": f"{canaries['badKey']} x"}},
        ),
    ]


def _service_log(world: World) -> str:
    """The service's log (SERVICE_LOG); a stage that gives none skips the scenario, never passes it."""
    if world.target.service_log is None:
        pytest.skip("needs the service log: the stage gives no SERVICE_LOG the QA runner can read")
    if not world.target.service_log.exists():
        pytest.fail(f"SERVICE_LOG {world.target.service_log} does not exist: point it at the service's log file")
    return world.target.service_log.read_text(errors="replace")


@then("the service log recorded those requests")
def security_log_has_marker(world: World, canary_trail: CanaryTrail) -> None:
    failed = [describe(r)[:200] for r in canary_trail.answers if r.status_code == 500]
    assert not failed, "requests carrying canaries broke the service:\n" + "\n".join(failed)
    log = _service_log(world)
    assert canary_trail.log_marker is not None, "no requests were marked for the service log in this scenario"
    assert canary_trail.log_marker in log, "the service log does not show this scenario's requests: nothing to search"


@then("the service log holds none of the canary secrets")
def security_log_has_no_canary(world: World, canary_trail: CanaryTrail) -> None:
    leaked = leaks(_service_log(world), canary_trail.canaries)
    assert not leaked, f"the service log holds these canary secrets: {', '.join(leaked)}"
