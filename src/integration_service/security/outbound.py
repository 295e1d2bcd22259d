"""The outbound-URL guard: a user-supplied URL (BillionMail's `customData.baseUrl`) never reaches our own
network.

Two checks, one rule (`OutboundPolicy.refusal`, on `ipaddress` classes):
- when the URL is accepted: a host written as an address, in any of the numeric forms a resolver
  accepts (`2130706433`, `127.1`, `0x7f.0.0.1`, `017700000001`, `[::ffff:127.0.0.1]`), is normalised
  and checked, so the user hears at once what is wrong;
- at connect time (`guarded_transport`): the host is resolved, every address checked, and the
  connection made to a checked address itself, so a name that resolves (or re-resolves: DNS rebinding)
  to an internal address is refused before any connection is attempted.

Refused: loopback, private, link-local, reserved, multicast, unspecified, and anything else that is not
globally routable; loopback is allowed in the `local` stage (the provider sandbox runs there), and any
network listed in OUTBOUND_ALLOWED_NETWORKS is allowed in every stage (e.g. a staging drill's sandbox).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx

from integration_service.security.tls import provider_trust
from integration_service.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The legacy IPv4 spellings inet_aton accepts: 1 to 4 parts, each decimal, octal (0...) or hex (0x...).
_NUMERIC_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


class OutboundRefused(Exception):
    """A user-supplied URL names an address the service must not connect to. Never retried."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host} is {reason}: refused before connecting")
        self.host, self.reason = host, reason


@dataclass(frozen=True)
class OutboundPolicy:
    allow_loopback: bool
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(settings.stage == "local", tuple(settings.outbound_allowed_networks))

    def refusal(self, address: Address) -> str | None:
        """Why the service must not connect to `address`, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return None
        if address.is_loopback:
            return None if self.allow_loopback else "a loopback address"
        for reason, applies in (
            ("an unspecified address", address.is_unspecified),
            ("a link-local address", address.is_link_local),
            ("a private network address", address.is_private),
            ("a multicast address", address.is_multicast),
            ("a reserved address", address.is_reserved),
            ("not a public address", not address.is_global),
        ):
            if applies:
                return reason
        return None

    def check_host(self, host: str) -> None:
        """OutboundRefused when `host` is written as an address the policy refuses (names pass here)."""
        address = literal_address(host)
        if address is not None:
            reason = self.refusal(address)
            if reason is not None:
                raise OutboundRefused(host, f"{reason} ({address})")


def literal_address(host: str) -> Address | None:
    """The address a host written as one means, in any numeric form; None for a name."""
    bare = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not _NUMERIC_IPV4.match(bare):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None  # e.g. a part too large: no resolver would take it as an address either


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, then connects to a checked address (never re-resolving)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port)
        for address in addresses:
            reason = self._policy.refusal(address)
            if reason is not None:
                raise OutboundRefused(host, f"{reason} ({address})")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} resolved to no address")

    @staticmethod
    def _resolve(host: str, port: int) -> list[Address]:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved: {exc.strerror or exc}") from None
        return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        raise OutboundRefused(path, "a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, connecting only through the guard; no proxies from the environment (a proxy
    would be the address checked, not the target)."""

    def __init__(self, policy: OutboundPolicy, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify),
            network_backend=_GuardedBackend(policy),
        )


def guarded_client(settings: Settings, timeout: httpx.Timeout) -> httpx.Client:
    """The client for user-supplied URLs: redirects are not followed (they could lead anywhere)."""
    # The same trust as every provider client: a stage whose providers sit behind a private CA trusts it here too.
    transport = GuardedTransport(OutboundPolicy.from_settings(settings), provider_trust(settings.provider_ca_bundle))
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
