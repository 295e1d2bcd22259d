"""Steps of the security testing items (SECT-01..SECT-08).

Canary secrets are looked for in answers and the service log; PayPal webhooks are forged; foreign
origins, cookies and OAuth states try CSRF; users reach for each other's integrations. Where a SECT item
repeats a SEC attack, its scenarios reuse the steps of steps/security_secrets_https_cors.py and
steps/security_attacks.py (sections "SEC-nn / SECT-nn").
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from pytest_bdd import given, parsers, then, when

from harness.stack.oauth import start_in_browser, state_cookie
from steps.common import ApiUser, World, connect_account, describe, error_code
from steps.security_support import (
    INTEGRATIONS,
    SECRET_FIELDS,
    XSS_PAYLOADS,
    assert_not_renderable,
    create_integration,
    delete_afterwards,
    expect_error,
    ignored_stripe_event,
    integration_of,
    leaks,
    make_canaries,
    post_stripe,
    sql_row,
)

FOREIGN_ORIGIN_HEADERS = {"Origin": "https://evil.example"}


# --- helpers: PayPal webhooks ---------------------------------------------------------------------


def _paypal_event() -> dict[str, Any]:
    return {
        "id": f"WH-QA-{uuid.uuid4().hex}",
        "event_version": "1.0",
        "create_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "resource_type": "sale",
        "event_type": "PAYMENT.SALE.COMPLETED",
        "summary": "Payment completed",
        "resource": {"id": f"QA{uuid.uuid4().hex[:15].upper()}", "state": "completed", "parent_payment": "PAYID-QA"},
    }


def _paypal_headers(cert_url: str, signature: str, transmission_id: str, sent: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": sent,
        "PAYPAL-TRANSMISSION-SIG": signature,
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


def _genuine_paypal_cert_url(world: World) -> str:
    """The sandbox's signing certificate address, as it hands it out when a webhook is registered."""
    control = world.sandbox()
    registered = control.post("/paypal/webhooks", json={"url": "http://127.0.0.1:9/qa", "enabled_events": ["QA.NONE"]})
    assert registered.status_code == 201, f"registering a probe webhook at the sandbox: {registered.text[:300]}"
    control.delete(f"/paypal/webhooks/{registered.json()['webhook_id']}")
    cert_url: str = registered.json()["cert_url"]
    return cert_url


def _impostor_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sandbox.paypal.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def _serve_certificate(request: pytest.FixtureRequest, pem: bytes) -> str:
    """A host that is not PayPal serving a certificate at PayPal's path; its URL. Stopped after the scenario."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.end_headers()
            self.wfile.write(pem)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    request.addfinalizer(stop)
    return f"http://127.0.0.1:{server.server_address[1]}/paypal/certs/CERT-360caa42-fca2a594-qa.pem"


def _paypal_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- SECT-02: secrets in answers ------------------------------------------------------------------


@when(parsers.parse('"{name}" reads, lists and updates that integration'))
def security_read_list_update(world: World, name: str) -> None:
    user = world.user(name)
    integration_id = world.facts["canary_integration"]["id"]
    renewed = make_canaries("apiKey")
    world.facts["canaries"].update({"renewedApiKey": renewed["apiKey"]})
    world.facts["answers"] += [
        user.client.get(f"{INTEGRATIONS}/{integration_id}"),
        user.client.get(INTEGRATIONS),
        user.client.patch(f"{INTEGRATIONS}/{integration_id}", json={"integrationName": "qa-renamed", **renewed}),
    ]


@then("none of the answers holds a canary, in clear text or merely encoded")
def security_answers_hold_no_canary(world: World) -> None:
    for response in world.facts["answers"]:
        assert response.status_code in (200, 201), f"expected a success: {describe(response)[:300]}"
        leaked = leaks(response.text, world.facts["canaries"])
        method, path = response.request.method, response.request.url.path
        assert not leaked, f"{method} {path} sent these secrets back to the client: {', '.join(leaked)}"


@then("the answers only say that each secret is set")
def security_answers_only_flag_secrets(world: World) -> None:
    integration_id = world.facts["canary_integration"]["id"]
    for response in world.facts["answers"]:
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


# --- SECT-03: webhook signatures ------------------------------------------------------------------


@when(parsers.re(r"an unsigned (?P<provider>Stripe|PayPal) event is posted to its webhook"))
def security_post_unsigned(world: World, provider: str) -> None:
    if provider == "Stripe":
        post_stripe(world, json.dumps(ignored_stripe_event()).encode(), None)
    else:
        body = json.dumps(_paypal_event()).encode()
        headers = {"Content-Type": "application/json"}
        world.response = world.client().post(f"{INTEGRATIONS}/paypal/webhook", content=body, headers=headers)


@then(parsers.parse('the webhook is refused as not genuine, with code "{code}"'))
def security_webhook_refused_with(world: World, code: str) -> None:
    response = world.last_response()
    expect_error(response, 400, code)


@given("a PayPal event for the stage's webhook")
def security_paypal_event(world: World) -> None:
    if not world.target.paypal_webhook_id:
        pytest.skip("the stage's PayPal webhook id is not known: cannot address a signature to it")
    world.facts["paypal_event"] = json.dumps(_paypal_event()).encode()


@when(parsers.re(r"the event is posted to the PayPal webhook (?P<forgery>.+)"))
def security_post_forged_paypal(world: World, request: pytest.FixtureRequest, forgery: str) -> None:
    body: bytes = world.facts["paypal_event"]
    transmission_id, sent = str(uuid.uuid4()), _paypal_time()
    if forgery == "with a made-up signature and PayPal's genuine certificate":
        signature = base64.b64encode(secrets.token_bytes(256)).decode()
        headers = _paypal_headers(_genuine_paypal_cert_url(world), signature, transmission_id, sent)
    elif forgery == "signed by a certificate served from a host that is not PayPal":
        key, pem = _impostor_certificate()
        message = f"{transmission_id}|{sent}|{world.target.paypal_webhook_id}|{zlib.crc32(body)}".encode()
        signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
        headers = _paypal_headers(_serve_certificate(request, pem), signature, transmission_id, sent)
    else:
        raise ValueError(f"no PayPal forgery {forgery!r}")
    world.response = world.client().post(f"{INTEGRATIONS}/paypal/webhook", content=body, headers=headers)


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
def security_canaries_through_routes(world: World, request: pytest.FixtureRequest, name: str) -> None:
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
                    "customData": {"baseUrl": f"{world.sandbox_url()}/billionmail"},
                }
            },
        ),
        (
            "POST",
            INTEGRATIONS,
            {"json": {"integrationType": "XERO", "integrationName": marker, "apiKey": f"{canaries['badKey']} x"}},
        ),
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
    world.facts.update(canaries=canaries, log_marker=marker, answers=answers)


def _service_log(world: World) -> str:
    """The service's log (SERVICE_LOG); a stage that gives none skips the scenario, never passes it."""
    if world.target.service_log is None:
        pytest.skip("needs the service log: the stage gives no SERVICE_LOG the QA runner can read")
    if not world.target.service_log.exists():
        pytest.fail(f"SERVICE_LOG {world.target.service_log} does not exist: point it at the service's log file")
    return world.target.service_log.read_text(errors="replace")


@then("the service log recorded those requests")
def security_log_has_marker(world: World) -> None:
    failed = [describe(r)[:200] for r in world.facts["answers"] if r.status_code == 500]
    assert not failed, "requests carrying canaries broke the service:\n" + "\n".join(failed)
    log = _service_log(world)
    assert world.facts["log_marker"] in log, "the service log does not show this scenario's requests: nothing to search"


@then("the service log holds none of the canary secrets")
def security_log_has_no_canary(world: World) -> None:
    leaked = leaks(_service_log(world), world.facts["canaries"])
    assert not leaked, f"the service log holds these canary secrets: {', '.join(leaked)}"


# --- SECT-04: CSRF --------------------------------------------------------------------------------


@when(
    parsers.re(
        r"a browser holding Alice's token in its cookies sends (?P<method>GET|POST|DELETE) (?P<path>\S+) "
        r"without an API token"
    )
)
def security_cookie_only_request(world: World, method: str, path: str) -> None:
    token = world.user("Alice").token
    cookies = "; ".join(
        f"{name}={token}" for name in ("session", "token", "access_token", "api_token", "Authorization")
    )
    headers = {"Cookie": cookies, **FOREIGN_ORIGIN_HEADERS}
    body = {"integrationType": "XERO", "integrationName": "qa-csrf"} if method == "POST" else None
    world.response = world.client().request(method, path, headers=headers, json=body)


@when(parsers.re(r"a browser returns to the Xero callback (?P<state>without a state|with a made-up state)"))
def security_callback_without_own_state(world: World, state: str) -> None:
    params = {"code": "qa-code"}
    if state == "with a made-up state":
        params["state"] = secrets.token_urlsafe(32)
    world.response = world.client().get(f"{INTEGRATIONS}/xero/callback", params=params)


def _consent(world: World, consent_url: str) -> str:
    """The provider's consent page, walked by the user's browser: the callback URL it sends back to."""
    consent = world.facts["browser"].get(consent_url)
    assert consent.status_code == 302, f"expected the consent page to send the browser back: {consent.text[:300]}"
    location: str = consent.headers["Location"]
    return location


def _connect_started(world: World, user: ApiUser, provider: str) -> str:
    """The consent URL of a flow started in the scenario's browser (which holds its state cookie)."""
    started = start_in_browser(user.client, world.facts["browser"], provider)
    world.facts.setdefault("state_cookies", {})[provider] = state_cookie(started)
    location: str = started.headers["Location"]
    return location


@when(parsers.parse('"{name}" starts connecting Xero and the provider sends her browser back with a code'))
def security_start_xero_connection(world: World, name: str) -> None:
    world.facts["browser"] = world.client(base_url="")
    world.facts["consent_url"] = _connect_started(world, world.user(name), "xero")
    world.facts["callback_url"] = _consent(world, world.facts["consent_url"])
    world.facts["state"] = parse_qs(urlsplit(world.facts["callback_url"]).query)["state"][0]


@then("Xero's state is refused at the MYOB callback, even with a code MYOB issued for it")
def security_state_refused_elsewhere(world: World) -> None:
    # MYOB's own consent page, handed Xero's state: a genuine MYOB code arrives with a state MYOB never issued.
    myob_consent = urlsplit(_connect_started(world, world.user("Alice"), "myob"))
    query = {**{k: v[0] for k, v in parse_qs(myob_consent.query).items()}, "state": world.facts["state"]}
    callback = _consent(world, myob_consent._replace(query=urlencode(query)).geturl())
    # With Xero's state cookie too (a browser sends it only to Xero's callback): the provider binding must refuse.
    xeros_cookie = {"Cookie": world.facts["state_cookies"]["xero"]}
    answer = world.facts["browser"].get(callback, headers=xeros_cookie)
    expect_error(answer, 400, what="MYOB's callback took a state issued for Xero")


@then("the Xero callback connects the integration")
def security_callback_connects(world: World, request: pytest.FixtureRequest) -> None:
    response = world.facts["browser"].get(world.facts["callback_url"])
    assert response.status_code == 200, f"expected the genuine callback to connect: {describe(response)}"
    delete_afterwards(request, world.user("Alice"), integration_of(response)["id"])


@then("Xero's state is refused when used again, even with a fresh code from Xero")
def security_callback_replay_refused(world: World) -> None:
    fresh = _consent(world, world.facts["consent_url"])  # the consent page again: a new code, the same state
    assert fresh != world.facts["callback_url"], "expected the provider to issue a new code"
    expect_error(world.facts["browser"].get(fresh), 400, what="a used state was accepted again")


# --- SECT-08: unauthorized access -----------------------------------------------------------------


def _tokens(world: World, kind: str) -> str:
    if kind == "a made-up token":
        return f"Bearer {secrets.token_urlsafe(32)}"
    token = world.user("Alice").token
    if kind == "Alice's token with one character changed":
        return f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}"
    if kind == "Alice's token sent as Basic credentials":
        return "Basic " + base64.b64encode(f"{token}:".encode()).decode()
    if kind == "an empty Bearer token":
        return "Bearer"
    raise ValueError(f"no token kind {kind!r}")


@when(parsers.re(r"a caller with (?P<kind>.+) sends GET (?P<path>\S+)$"))
def security_caller_with_token(world: World, kind: str, path: str) -> None:
    world.response = world.client().get(path, headers={"Authorization": _tokens(world, kind)})


@when(parsers.re(r'"(?P<name>[^"]+)" tries to (?P<action>read|rename|delete|test|sync) Alice\'s integration'))
def security_reach_for_foreign_integration(world: World, name: str, action: str) -> None:
    client, victim = world.user(name).client, world.integrations["Alice"]["id"]
    path = f"{INTEGRATIONS}/{victim}"
    requests: dict[str, Callable[[], httpx.Response]] = {
        "read": lambda: client.get(path),
        "rename": lambda: client.patch(path, json={"integrationName": "qa-taken-over"}),
        "delete": lambda: client.delete(path),
        "test": lambda: client.post(f"{path}/test"),
        "sync": lambda: client.post(f"{INTEGRATIONS}/sync", json={"integrationId": victim, "dataType": "invoices"}),
    }
    world.response = requests[action]()


@given(parsers.parse('"{name}" has connected Xero and synced its contacts'))
def security_connected_and_synced(world: World, request: pytest.FixtureRequest, name: str) -> None:
    user = world.user(name)
    integration = connect_account(world, user, "xero")
    delete_afterwards(request, user, integration["id"])
    synced = user.client.post(f"{INTEGRATIONS}/sync", json={"integrationId": integration["id"], "dataType": "contacts"})
    assert synced.status_code == 200, f"expected the sync to succeed: {describe(synced)}"
    own = user.client.get(f"{INTEGRATIONS}/logs", params={"integrationId": integration["id"]})
    contacts = user.client.get(f"{INTEGRATIONS}/xero/contacts", params={"integrationId": integration["id"]})
    assert own.json()["total"] > 0, f"expected sync logs to hide from Mallory: {describe(own)}"
    assert contacts.json()["total"] > 0, f"expected contacts to hide from Mallory: {describe(contacts)}"
    world.integrations[name] = integration


@when(parsers.parse('"{name}" lists the sync logs and Xero contacts, unfiltered and filtered by Alice\'s integration'))
def security_list_foreign_records(world: World, name: str) -> None:
    client, victim = world.user(name).client, world.integrations["Alice"]["id"]
    world.facts["foreign_lists"] = [
        client.get(f"{INTEGRATIONS}/{what}", params=params)
        for what in ("logs", "xero/contacts")
        for params in ({}, {"integrationId": victim})
    ]


@then("Mallory sees none of Alice's sync logs or contacts")
def security_foreign_records_hidden(world: World) -> None:
    victim = world.integrations["Alice"]["id"]
    for response in world.facts["foreign_lists"]:
        assert response.status_code in (200, 404), f"expected an empty list or 404: {describe(response)}"
        if response.status_code == 200:
            assert response.json()["total"] == 0, f"Mallory sees Alice's rows: {describe(response)[:400]}"
        assert victim not in response.text, f"Alice's integration id shows: {describe(response)[:400]}"
