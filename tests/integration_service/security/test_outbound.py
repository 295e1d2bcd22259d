"""The outbound-URL guard over real sockets: internal addresses refused before any connection, in every
numeric spelling, at connect time; and a TLS certificate failure tried once, not retried."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.core.tls import issue_private_ca
from integration_service.providers.errors import ProviderAddressRefused, ProviderUnavailable
from integration_service.providers.http import RetryPolicy, send_with_retries
from integration_service.security.outbound import GuardedTransport, OutboundPolicy, OutboundRefused, literal_address

STAGING = OutboundPolicy(allow_loopback=False)
LOCAL = OutboundPolicy(allow_loopback=True)
QUICK = RetryPolicy(attempts=4, total_s=10.0, initial_wait_s=0.01, backoff_max_s=0.05, max_retry_after_s=1.0)
LOOPBACK_SPELLINGS = [
    "2130706433",
    "127.1",
    "0x7f.0.0.1",
    "017700000001",
    "0x7f000001",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
]
INTERNAL = {
    "10.0.0.1": "private",
    "0x0a000001": "private",
    "012.0.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",
    "0.0.0.0": "unspecified",  # noqa: S104 - an address refused, not one bound to
    "0": "unspecified",
    "224.0.0.1": "multicast",
    "240.0.0.1": "private|reserved",
    "100.64.0.1": "not a public",
    "[fe80::1]": "link-local",
    "[fd00::1]": "private",
    "[::ffff:10.0.0.1]": "private",
}


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections made to it (optionally speaking TLS)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._tls = tls
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                if self._tls is not None:
                    self._tls.wrap_socket(connection, server_side=True).close()  # the client refuses our cert
                else:
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            finally:
                connection.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.sock.close()


def untrusted_server_context(directory: Path) -> ssl.SSLContext:
    """A server certificate from a private CA the client does not trust (harness.core.tls, trustme)."""
    tls = issue_private_ca(directory, ("localhost",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    return context


def client(policy: OutboundPolicy) -> httpx.Client:
    return httpx.Client(transport=GuardedTransport(policy), timeout=5)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_numeric_spelling_of_loopback_is_normalised_and_refused_outside_local(host: str) -> None:
    assert str(literal_address(host)) in ("127.0.0.1", "::1", "::ffff:7f00:1")
    with pytest.raises(OutboundRefused, match="loopback"):
        STAGING.check_host(host)
    LOCAL.check_host(host)  # the local stage's sandbox runs on loopback


@pytest.mark.parametrize(("host", "reason"), INTERNAL.items())
def test_internal_addresses_are_refused_in_every_stage(host: str, reason: str) -> None:
    for policy in (STAGING, LOCAL):
        with pytest.raises(OutboundRefused, match=reason):
            policy.check_host(host)


def test_names_and_public_addresses_pass_the_literal_check() -> None:
    for host in ("mail.example.com", "93.184.216.34", "0x5db8d822", "[2606:2800:220:1:248:1893:25c8:1946]"):
        STAGING.check_host(host)


def test_an_allowed_network_is_reachable_outside_local() -> None:
    drill = OutboundPolicy(allow_loopback=False, allowed_networks=(ip_network("127.0.0.0/8"),))
    drill.check_host("127.0.0.1")
    with pytest.raises(OutboundRefused):
        drill.check_host("10.0.0.1")


@pytest.mark.parametrize("host", ["vm", "localhost", "127.1", "2130706433", "0x7f.0.0.1"])
def test_a_host_leading_to_loopback_is_refused_at_connect_time_before_any_connection(
    listener: Listener, host: str
) -> None:
    with client(STAGING) as guarded, pytest.raises(OutboundRefused, match="loopback"):
        guarded.get(f"http://{host}:{listener.port}/")
    assert listener.accepted == 0
    with client(LOCAL) as local:
        assert local.get(f"http://{host}:{listener.port}/").status_code == 204
    assert listener.accepted == 1


def test_a_name_that_resolves_to_an_internal_address_is_refused_whatever_resolved_before(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name's answer changes between checks. The guard checks the answer it connects
    to (one resolution per connection), so a public first answer buys the attacker nothing."""
    answers = iter(["93.184.216.34", "10.1.2.3"])
    real = socket.getaddrinfo

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert literal_address("rebind.example") is None  # a name: passes when the URL is accepted
    socket.getaddrinfo("rebind.example", 443)  # the first (public) answer, e.g. seen by a validator
    with client(STAGING) as guarded, pytest.raises(OutboundRefused, match="private"):
        guarded.get("http://rebind.example/")


def test_a_refused_address_is_a_provider_request_error_and_not_retried(listener: Listener) -> None:
    with client(STAGING) as guarded, pytest.raises(ProviderAddressRefused, match="loopback"):
        send_with_retries(guarded, lambda: guarded.build_request("GET", f"http://vm:{listener.port}/"), QUICK)
    assert listener.accepted == 0


def test_a_certificate_failure_is_tried_once_not_retried(tmp_path: Path) -> None:
    server = Listener(tls=untrusted_server_context(tmp_path))
    try:
        with client(LOCAL) as local, pytest.raises(ProviderUnavailable, match="TLS certificate"):
            send_with_retries(local, lambda: local.build_request("GET", f"https://localhost:{server.port}/"), QUICK)
    finally:
        server.sock.close()
    assert server.accepted == 1, f"{server.accepted} TLS handshakes for one call"
