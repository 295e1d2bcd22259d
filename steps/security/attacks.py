"""Steps of the security items SEC-04..SEC-08, proved by attack: bursts past the rate limit; Stripe webhooks
forged, replayed and tampered with; invalid bodies, SQL injection and script payloads in every input the
live OpenAPI names. HTTP throughout, SQL only where the item is about the database (tables left intact,
nothing written by a refused request).

The steps of a section marked "SEC-nn / SECT-nn" are also used by the security testing scenarios
(steps/security/security_testing_*.py).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from harness.ops.smoke import stripe_signature
from steps.common import World, describe, error_code
from steps.support.openapi import (
    LiveSchema,
    Operation,
    _injections,
    _operations,
    _required_query,
    _sample,
    _send,
    _url,
    _wrong_value,
)
from steps.support.security import (
    INTEGRATIONS,
    XSS_PAYLOADS,
    Burst,
    assert_not_renderable,
    create_integration,
    delete_afterwards,
    expect_error,
    ignored_stripe_event,
    integration_of,
    post_stripe,
    send_burst,
    sql_row,
)

SQL_INJECTIONS = ("' OR 1=1 --", "'; DROP TABLE integrations_credentials; --")
UNION_INJECTION = "x' UNION SELECT id, user_id, integration_name FROM integrations_credentials --"


# --- SEC-04 / SECT-05: rate limiting --------------------------------------------------------------


@when(
    parsers.re(
        r'"(?P<name>[^"]+)" sends GET (?P<path>\S+) (?P<extra>\d+) times more than '
        r"the stage's rate limit allows in its window"
    ),
    target_fixture="rate_burst",
)
def security_burst(world: World, name: str, path: str, extra: str) -> Burst:
    return send_burst(world, world.user(name), path, int(extra))


@then("exactly the rate limit's number of those requests were answered 200")
def security_burst_allowed_count(rate_burst: Burst) -> None:
    elapsed = rate_burst.elapsed_s
    if elapsed >= rate_burst.window_s:
        pytest.fail(f"the burst took {elapsed:.0f} s, longer than the {rate_burst.window_s} s window: inconclusive")
    answered = [r.status_code for r in rate_burst.responses]
    ok = answered.count(200)
    assert ok == rate_burst.limit, (
        f"expected exactly {rate_burst.limit} of {len(answered)} requests answered 200 within {rate_burst.window_s} s, "
        f"got {ok} (statuses: {sorted(set(answered))})"
    )


@then(parsers.parse('every request past the limit was answered 429 "{code}" with a Retry-After within the window'))
def security_burst_refusals(rate_burst: Burst, code: str) -> None:
    refused = [r for r in rate_burst.responses if r.status_code != 200]
    assert len(refused) == rate_burst.extra, f"expected {rate_burst.extra} refusals, got {len(refused)}"
    for response in refused:
        expect_error(response, 429, code)
        retry_after = response.headers.get("retry-after", "")
        assert retry_after.isdigit(), f"expected a Retry-After in seconds, got {retry_after!r}"
        assert 1 <= int(retry_after) <= rate_burst.window_s, (
            f"expected Retry-After from 1 to {rate_burst.window_s} s, got {retry_after!r}"
        )


# --- SEC-05 / SECT-03: webhook signatures ---------------------------------------------------------


def _stripe_secret(world: World) -> str:
    if not world.target.stripe_webhook_secret:
        pytest.skip("the stage's Stripe webhook secret (STRIPE_WEBHOOK_SECRETS) is not set: cannot sign events")
    return world.target.stripe_webhook_secret


@given("a Stripe event the service records and ignores", target_fixture="stripe_event")
def security_stripe_event() -> dict[str, Any]:
    return ignored_stripe_event()


@when(parsers.re(r"the event is posted to the Stripe webhook (?P<how>.+)"))
def security_post_stripe_event(world: World, how: str, stripe_event: dict[str, Any]) -> None:
    event = stripe_event
    body = json.dumps(event).encode()
    secret = _stripe_secret(world)
    if how == "signed with the endpoint's secret":
        post_stripe(world, body, stripe_signature(body, secret))
    elif how == "signed with another secret":
        post_stripe(world, body, stripe_signature(body, "whsec_" + secrets.token_urlsafe(24)))
    elif how == "signed with the endpoint's secret two hours ago":  # a captured delivery, replayed
        post_stripe(world, body, stripe_signature(body, secret, at=int(time.time()) - 7200))
    elif how == "signed with the endpoint's secret, then altered":
        altered = json.dumps({**event, "data": {"object": {**event["data"]["object"], "email": "evil@example.com"}}})
        post_stripe(world, altered.encode(), stripe_signature(body, secret))
    elif how == "without a signature":
        post_stripe(world, body, None)
    else:
        raise ValueError(f"no Stripe delivery {how!r}")


@then("the webhook is refused as not genuine")
def security_webhook_refused(world: World) -> None:
    response = world.last_response()
    expect_error(response, 400)


@then("it is accepted as a new event, so the refused delivery left no trace")
def security_accepted_as_new(world: World, stripe_event: dict[str, Any]) -> None:
    response = world.last_response()
    assert response.status_code == 200, f"expected the genuine event accepted: {describe(response)}"
    assert response.json().get("duplicate") is False, f"the refused delivery was recorded: {describe(response)}"
    # A recorded delivery would have shown: the same genuine event again is a duplicate.
    security_post_stripe_event(world, "signed with the endpoint's secret", stripe_event)
    again = world.last_response()
    assert again.status_code == 200, f"expected the redelivery acknowledged: {describe(again)}"
    assert again.json().get("duplicate") is True, f"a recorded event is not reported as a duplicate: {describe(again)}"


# --- SEC-06: input validation on every operation --------------------------------------------------


def _body_probe(spec: dict[str, Any], operation: Operation, problem: str) -> tuple[Any, set[str]] | None:
    """(body, the fields the 422 must name) for one operation; None when the problem does not apply."""
    schema = operation.body or {}
    if problem == "fields of the wrong type":
        body = {}
        for name, prop in schema.get("properties", {}).items():
            found, value = _wrong_value(spec, prop)
            if found:
                body[name] = value
        return (body, set(body)) if body else None
    if problem == "its required fields missing":
        required = set(schema.get("required", []))
        return ({}, required) if required else None
    if problem == "a field the API does not know":
        return {**_sample(spec, schema), "qaUnexpectedField": 1}, {"qaUnexpectedField"}
    raise ValueError(f"no body problem {problem!r}")


# An operation, the body fields that make its probe invalid, and the answer.
Probe = tuple[Operation, set[str], httpx.Response]


@when(
    parsers.parse('"{name}" sends every JSON-body operation of the live API a body with {problem}'),
    target_fixture="probes",
)
def security_send_invalid_bodies(world: World, live_schema: LiveSchema, name: str, problem: str) -> list[Probe]:
    user, spec = world.user(name), live_schema.spec()
    probes: list[Probe] = []
    for operation in _operations(world, live_schema):
        if operation.body is None:
            continue
        probe = _body_probe(spec, operation, problem)
        if probe is not None:
            body, fields = probe
            url = _url(operation, spec)
            probes.append(
                (operation, fields, _send(user, operation.method, url, _required_query(operation, spec), body))
            )
    assert len(probes) >= 5, f"expected the live API to have JSON-body operations to probe, found {len(probes)}"
    return probes


@then(parsers.parse('every one is answered 422 "{code}", naming each offending field'))
def security_probes_refused(code: str, probes: list[Probe]) -> None:
    problems = []
    for operation, fields, response in probes:
        if operation.signed_by:  # probes are unsigned: refused before the body is read
            if response.status_code != 400 or error_code(response) != "invalid_signature":
                problems.append(
                    f"{operation}: expected 400 invalid_signature (unsigned), got {describe(response)[:300]}"
                )
            continue
        if response.status_code != 422 or error_code(response) != code:
            problems.append(f"{operation}: expected 422 {code}, got {describe(response)[:300]}")
            continue
        named = {str(detail.get("field", "")) for detail in response.json()["error"].get("details") or []}
        unnamed = sorted(f for f in fields if not any(n == f"body.{f}" or n.startswith(f"body.{f}.") for n in named))
        if unnamed:
            problems.append(f"{operation}: the error does not name {unnamed} (it names {sorted(named)})")
    assert not problems, f"{len(problems)} of {len(probes)} operations:\n" + "\n".join(problems)


# --- SEC-07 / SECT-06: SQL injection --------------------------------------------------------------


@given(parsers.parse('"{name}" has an integration of her own'))
def security_own_integration(world: World, request: pytest.FixtureRequest, name: str) -> None:
    label = f"qa-{name.lower()}-books-{uuid.uuid4().hex[:8]}"
    response = create_integration(request, world.user(name), label, customData={"note": "private"})
    assert response.status_code == 201, f"expected {name}'s integration created: {describe(response)}"
    world.integrations[name] = integration_of(response)


def _table_snapshot(world: World) -> tuple[list[str], str]:
    """The schema's tables and the victim's row, to compare after the attack."""
    tables = sql_row(
        world,
        "SELECT array_agg(table_name::text ORDER BY table_name) FROM information_schema.tables "
        "WHERE table_schema = current_schema()",
    )[0]
    victim = world.integrations["Alice"]["id"]
    row = sql_row(world, "SELECT to_jsonb(c)::text FROM integrations_credentials c WHERE id = %s", victim)
    return list(tables), row[0] if row else ""


@dataclass(frozen=True)
class SqlAttack:
    """Every injected request with its answer, and (unless only reads were attacked) the tables before it."""

    answers: list[tuple[str, str, httpx.Response]]  # (method, url, answer)
    tables_before: tuple[list[str], str] | None


@when(
    parsers.re(
        r'"(?P<name>[^"]+)" puts SQL injection payloads in every (?P<scope>.+) of the live API'
        r"(?P<reads>'s read operations)?$"
    ),
    target_fixture="sql_attack",
)
def security_inject_sql(
    world: World, live_schema: LiveSchema, request: pytest.FixtureRequest, name: str, scope: str, reads: str | None
) -> SqlAttack:
    read_only = bool(reads)
    tables_before = None if read_only else _table_snapshot(world)
    user = world.user(name)
    answers = [
        (method, url, _send(user, method, url, params, body))
        for method, url, params, body in _injections(world, live_schema, read_only=read_only, payloads=SQL_INJECTIONS)
    ]
    for method, url, response in answers:  # names that are injections are valid names: clean them up
        if method == "POST" and url == INTEGRATIONS and response.status_code == 201:
            delete_afterwards(request, user, integration_of(response)["id"])
    assert len(answers) >= 20, f"expected the live API to have inputs to attack, found {len(answers)}"
    return SqlAttack(answers=answers, tables_before=tables_before)


@then("none of Mallory's requests was answered with a server error")
def security_no_server_error(sql_attack: SqlAttack) -> None:
    broken = [
        f"{response.request.url} → {describe(response)[:300]}"
        for _, _, response in sql_attack.answers
        if response.status_code == 500 or error_code(response) == "internal_error"
    ]
    assert not broken, f"{len(broken)} injected requests broke the service:\n" + "\n".join(broken[:10])


@then("none of Mallory's answers shows Alice's integration")
def security_no_foreign_data(world: World, sql_attack: SqlAttack) -> None:
    victim = world.integrations["Alice"]
    leaked = [
        f"{method} {url} → {response.status_code}"
        for method, url, response in sql_attack.answers
        if victim["id"] in response.text or victim["integrationName"] in response.text
    ]
    assert not leaked, "these answers to Mallory show Alice's integration:\n" + "\n".join(leaked[:10])


@when(parsers.parse('"{name}" names integrations with the SQL injection payloads'), target_fixture="named")
def security_name_with_injections(
    world: World, request: pytest.FixtureRequest, name: str
) -> list[tuple[str, httpx.Response]]:
    user = world.user(name)
    created = []
    for injection in (*SQL_INJECTIONS, UNION_INJECTION):
        payload = f"{injection} {uuid.uuid4().hex[:6]}"  # unique: the sweep may have used the bare payload
        response = create_integration(request, user, payload)
        assert response.status_code == 201, f"expected a name like {payload!r} accepted as data: {describe(response)}"
        created.append((payload, integration_of(response)["id"]))
    return [(payload, user.client.get(f"{INTEGRATIONS}/{i}")) for payload, i in created]


@then("each name is read back exactly as sent")
def security_names_read_back(named: list[tuple[str, httpx.Response]]) -> None:
    for payload, response in named:
        assert response.status_code == 200, f"expected the integration readable: {describe(response)}"
        stored = integration_of(response)["integrationName"]
        assert stored == payload, f"the name was changed on the way: sent {payload!r}, read back {stored!r}"


@then("the integration tables are intact, with Alice's integration unchanged")
def security_tables_intact(world: World, sql_attack: SqlAttack) -> None:
    assert sql_attack.tables_before is not None, "the tables were not looked at before the attack"
    before_tables, before_row = sql_attack.tables_before
    after_tables, after_row = _table_snapshot(world)
    assert after_tables == before_tables, f"tables changed: lost {sorted(set(before_tables) - set(after_tables))}"
    assert after_row, "Alice's integration row was removed by Mallory's requests"
    assert after_row == before_row, "Alice's integration row was changed by Mallory's requests"


# --- SEC-08 / SECT-07: XSS ------------------------------------------------------------------------


@dataclass
class ScriptPayloads:
    """Integrations stored with script payloads (payload, id), and every answer that carried them back."""

    stored: list[tuple[str, str]]
    answers: list[httpx.Response]


@when(
    parsers.parse('"{name}" stores integrations whose names and custom data hold script payloads'),
    target_fixture="script_payloads",
)
def security_store_scripts(world: World, request: pytest.FixtureRequest, name: str) -> ScriptPayloads:
    user = world.user(name)
    answers, stored = [], []
    for payload in XSS_PAYLOADS:
        response = create_integration(request, user, payload, customData={"note": payload})
        assert response.status_code == 201, f"expected {payload!r} accepted as a name: {describe(response)}"
        answers.append(response)
        stored.append((payload, integration_of(response)["id"]))
    return ScriptPayloads(stored, answers)


@when(parsers.parse('"{name}" reads those integrations back, one by one and as a list'))
def security_read_scripts(world: World, name: str, script_payloads: ScriptPayloads) -> None:
    client = world.user(name).client
    script_payloads.answers += [client.get(f"{INTEGRATIONS}/{i}") for _, i in script_payloads.stored]
    script_payloads.answers.append(client.get(INTEGRATIONS))


@then("every answer is JSON with the payloads exactly as sent, and the browser is told not to sniff or render it")
def security_scripts_are_data(script_payloads: ScriptPayloads) -> None:
    expected = {i: p for p, i in script_payloads.stored}
    seen = 0
    for response in script_payloads.answers:
        assert response.status_code in (200, 201), f"expected a success: {describe(response)}"
        assert_not_renderable(response)
        body = response.json()
        for integration in body.get("integrations", [body.get("integration")]):
            if integration and integration["id"] in expected:
                payload = expected[integration["id"]]
                assert integration["integrationName"] == payload, f"name altered: {integration['integrationName']!r}"
                assert integration["customData"] == {"note": payload}, (
                    f"customData altered: {integration['customData']}"
                )
                seen += 1
    assert seen == 3 * len(XSS_PAYLOADS), f"expected each payload back in 3 answers, saw {seen} integrations"
