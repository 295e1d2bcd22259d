"""Steps of the security testing items on who may do what (SECT-03, SECT-04, SECT-08): PayPal webhooks forged
(a made-up signature, a certificate from a host that is not PayPal); foreign origins, cookies and OAuth states
trying CSRF; users reaching for each other's integrations. The PayPal event, the Xero consent flow and the
foreign lists pass between steps as fixtures (`target_fixture`). The other SECT items are in
security_testing_leaks.py.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from pytest_bdd import given, parsers, then, when

from harness.stack.oauth import start_in_browser, state_cookie
from steps.common import ApiUser, World, connect_account, describe
from steps.support.security import (
    INTEGRATIONS,
    delete_afterwards,
    expect_error,
    ignored_stripe_event,
    integration_of,
    post_stripe,
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


@given("a PayPal event for the stage's webhook", target_fixture="paypal_event")
def security_paypal_event(world: World) -> bytes:
    if not world.target.paypal_webhook_id:
        pytest.skip("the stage's PayPal webhook id is not known: cannot address a signature to it")
    return json.dumps(_paypal_event()).encode()


@when(parsers.re(r"the event is posted to the PayPal webhook (?P<forgery>.+)"))
def security_post_forged_paypal(
    world: World, request: pytest.FixtureRequest, forgery: str, paypal_event: bytes
) -> None:
    body = paypal_event
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


@dataclass
class XeroConsent:
    """A Xero connection started in the scenario's own browser and walked through the consent page."""

    browser: httpx.Client  # holds the state cookies of the flows it started
    consent_url: str = ""
    callback_url: str = ""
    state: str = ""
    state_cookies: dict[str, str] = field(default_factory=dict)  # by provider


def _consent(browser: httpx.Client, consent_url: str) -> str:
    """The provider's consent page, walked by the user's browser: the callback URL it sends back to."""
    consent = browser.get(consent_url)
    assert consent.status_code == 302, f"expected the consent page to send the browser back: {consent.text[:300]}"
    location: str = consent.headers["Location"]
    return location


def _connect_started(flow: XeroConsent, user: ApiUser, provider: str) -> str:
    """The consent URL of a flow started in the scenario's browser (which holds its state cookie)."""
    started = start_in_browser(user.client, flow.browser, provider)
    flow.state_cookies[provider] = state_cookie(started)
    location: str = started.headers["Location"]
    return location


@when(
    parsers.parse('"{name}" starts connecting Xero and the provider sends her browser back with a code'),
    target_fixture="xero_consent",
)
def security_start_xero_connection(world: World, name: str) -> XeroConsent:
    flow = XeroConsent(browser=world.client(base_url=""))
    flow.consent_url = _connect_started(flow, world.user(name), "xero")
    flow.callback_url = _consent(flow.browser, flow.consent_url)
    flow.state = parse_qs(urlsplit(flow.callback_url).query)["state"][0]
    return flow


@then("Xero's state is refused at the MYOB callback, even with a code MYOB issued for it")
def security_state_refused_elsewhere(world: World, xero_consent: XeroConsent) -> None:
    # MYOB's own consent page, handed Xero's state: a genuine MYOB code arrives with a state MYOB never issued.
    myob_consent = urlsplit(_connect_started(xero_consent, world.user("Alice"), "myob"))
    query = {**{k: v[0] for k, v in parse_qs(myob_consent.query).items()}, "state": xero_consent.state}
    callback = _consent(xero_consent.browser, myob_consent._replace(query=urlencode(query)).geturl())
    # With Xero's state cookie too (a browser sends it only to Xero's callback): the provider binding must refuse.
    xeros_cookie = {"Cookie": xero_consent.state_cookies["xero"]}
    answer = xero_consent.browser.get(callback, headers=xeros_cookie)
    expect_error(answer, 400, what="MYOB's callback took a state issued for Xero")


@then("the Xero callback connects the integration")
def security_callback_connects(world: World, request: pytest.FixtureRequest, xero_consent: XeroConsent) -> None:
    response = xero_consent.browser.get(xero_consent.callback_url)
    assert response.status_code == 200, f"expected the genuine callback to connect: {describe(response)}"
    delete_afterwards(request, world.user("Alice"), integration_of(response)["id"])


@then("Xero's state is refused when used again, even with a fresh code from Xero")
def security_callback_replay_refused(xero_consent: XeroConsent) -> None:
    fresh = _consent(xero_consent.browser, xero_consent.consent_url)  # the consent page again: a new code, same state
    assert fresh != xero_consent.callback_url, "expected the provider to issue a new code"
    expect_error(xero_consent.browser.get(fresh), 400, what="a used state was accepted again")


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


@when(
    parsers.parse('"{name}" lists the sync logs and Xero contacts, unfiltered and filtered by Alice\'s integration'),
    target_fixture="foreign_lists",
)
def security_list_foreign_records(world: World, name: str) -> list[httpx.Response]:
    client, victim = world.user(name).client, world.integrations["Alice"]["id"]
    return [
        client.get(f"{INTEGRATIONS}/{what}", params=params)
        for what in ("logs", "xero/contacts")
        for params in ({}, {"integrationId": victim})
    ]


@then("Mallory sees none of Alice's sync logs or contacts")
def security_foreign_records_hidden(world: World, foreign_lists: list[httpx.Response]) -> None:
    victim = world.integrations["Alice"]["id"]
    for response in foreign_lists:
        assert response.status_code in (200, 404), f"expected an empty list or 404: {describe(response)}"
        if response.status_code == 200:
            assert response.json()["total"] == 0, f"Mallory sees Alice's rows: {describe(response)[:400]}"
        assert victim not in response.text, f"Alice's integration id shows: {describe(response)[:400]}"
