"""TLS for stages: a private CA for a stage on this machine, and what the harness's clients trust.

A deployed stage answers over HTTPS, often with a certificate from a private CA. The harness trusts
the stage's `CA_BUNDLE` (a PEM file) *in addition to* the public roots httpx trusts by default, so one
setting covers a service behind a private CA and a provider sandbox behind a public one alike.

The service (PROVIDER_CA_BUNDLE) and the provider sandbox (SANDBOX_WEBHOOK_CA_BUNDLE) each build the
same kind of context for themselves: the import rules keep them from sharing this module.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import trustme

# A stage on this machine is reached by either name; the certificate must cover both.
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class ServerTls:
    """A server's certificate chain and key, and the CA bundle its clients verify it with."""

    cert: Path
    key: Path
    ca_bundle: Path


def client_verify(ca_bundle: Path | str | None) -> ssl.SSLContext | bool:
    """What an httpx client passes as `verify=`: the default trust, plus the bundle when there is one.

    An SSL context, not the path: httpx deprecates `verify=<path>`. A bundle that is missing or holds
    no certificate raises here, naming the file, rather than failing every request later.
    """
    if ca_bundle is None or str(ca_bundle) == "":
        return True
    context = httpx.create_ssl_context()
    try:
        context.load_verify_locations(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"CA bundle {ca_bundle} cannot be used: {exc}") from None
    return context


def issue_private_ca(directory: Path, names: tuple[str, ...] = LOOPBACK_NAMES) -> ServerTls:
    """A new CA (ca.pem) and a server certificate for `names` signed by it (server.pem, server-key.pem).

    trustme makes real X.509 certificates; the key file is readable by its owner only.
    """
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="Integration harness stage CA")
    server = authority.issue_cert(*names, common_name=names[0])
    tls = ServerTls(cert=directory / "server.pem", key=directory / "server-key.pem", ca_bundle=directory / "ca.pem")
    authority.cert_pem.write_to_path(str(tls.ca_bundle))
    server.cert_chain_pems[0].write_to_path(str(tls.cert))
    for intermediate in server.cert_chain_pems[1:]:
        intermediate.write_to_path(str(tls.cert), append=True)
    tls.key.touch(mode=0o600)
    server.private_key_pem.write_to_path(str(tls.key))
    return tls
