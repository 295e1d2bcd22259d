"""PayPal webhook self-verification, as PayPal documents it ("Integrate webhooks" → "Self-verification").

PayPal signs `<PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook id>|<CRC32 of the raw body,
unsigned decimal>` with SHA256withRSA and sends the base64 signature in PAYPAL-TRANSMISSION-SIG and
the signing certificate's address in PAYPAL-CERT-URL. The webhook id is OUR configured one
(PAYPAL_WEBHOOK_ID), never a value from the request, so an event signed for someone else's webhook
fails. The certificate is fetched only from an address under PAYPAL_CERT_URL_PREFIXES (anyone can
host a certificate: the address is what makes it PayPal's): the URL is parsed and normalised first,
then its scheme, host and port must equal a prefix's and its path be the prefix's path plus one plain
file name (no dot-segments, no percent-encoding). Certificates are cached by address, and so are
failures, for CERT_FAILURE_TTL_S: a flood of forged webhooks naming a missing certificate costs
one fetch, not one each. Fetches happen one at a time, so concurrent forgeries share that one.

Self-verification rather than PayPal's verify-webhook-signature API: no extra call per event, and it
works the same for PayPal's mock events, which that API cannot verify.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integration_service.providers.errors import ProviderUnavailable
from integration_service.providers.http import RetryPolicy, send_with_retries
from integration_service.settings import Settings

AUTH_ALGO = "SHA256withRSA"
HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
MAX_CACHED_CERTIFICATES = 32
MAX_CERTIFICATE_BYTES = 65_536
# After the allowed prefix only a plain file name: no `/`, query, fragment or encoded characters
# that could walk the path elsewhere on PayPal's host (and `.`/`..` are refused by name).
_CERT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
CERT_FAILURE_TTL_S = 60.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A certificate fetch happens while PayPal waits for our answer: retry briefly, then answer 503 and let
# PayPal redeliver (it retries for days) rather than hold the request for the sync retry budget.
CERT_FETCH_POLICY = RetryPolicy(attempts=2, total_s=10.0, initial_wait_s=0.2, backoff_max_s=1.0, max_retry_after_s=2.0)


class SignatureRejected(Exception):
    """The request is not a genuine, fresh PayPal event for our webhook; `reason` says why (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerificationUnavailable(Exception):
    """We could not check (certificate host down, webhook id not configured): PayPal should retry."""


@dataclass(frozen=True)
class Transmission:
    transmission_id: str
    transmission_time: str
    signature: str
    cert_url: str
    auth_algo: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Transmission:
        missing = [name.upper() for name in HEADERS if not headers.get(name)]
        if missing:
            raise SignatureRejected(f"missing {', '.join(missing)} header(s): not a signed PayPal webhook")
        return cls(*(headers[name] for name in HEADERS))


def signed_message(transmission: Transmission, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission.transmission_id}|{transmission.transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


@dataclass(frozen=True)
class _Failure:
    rejected: bool  # SignatureRejected (the address serves no usable certificate) or VerificationUnavailable
    reason: str
    until: float  # time.monotonic() after which the address is tried again

    def error(self) -> Exception:
        return SignatureRejected(self.reason) if self.rejected else VerificationUnavailable(self.reason)


class CertificateStore:
    """Signing certificates by URL, fetched once (PayPal rotates them rarely and changes the URL when it
    does); a failed fetch is remembered for `failure_ttl_s`, so a flood of forgeries costs one fetch."""

    def __init__(self, failure_ttl_s: float = CERT_FAILURE_TTL_S) -> None:
        self._entries: OrderedDict[str, rsa.RSAPublicKey | _Failure] = OrderedDict()
        self._lock = threading.Lock()
        self._fetching = threading.Lock()  # one fetch at a time: concurrent misses wait for its result
        self._failure_ttl_s = failure_ttl_s

    def public_key(
        self, url: str, http: httpx.Client, now: datetime, policy: RetryPolicy = CERT_FETCH_POLICY
    ) -> rsa.RSAPublicKey:
        cached = self._cached(url)
        if cached is not None:
            return cached
        with self._fetching:
            cached = self._cached(url)  # fetched (or failed) while this request waited
            if cached is not None:
                return cached
            try:
                key = self._fetch(url, http, policy, now)
            except (SignatureRejected, VerificationUnavailable) as exc:
                rejected = isinstance(exc, SignatureRejected)
                self._remember(url, _Failure(rejected, str(exc), time.monotonic() + self._failure_ttl_s))
                raise
            self._remember(url, key)
            return key

    def _cached(self, url: str) -> rsa.RSAPublicKey | None:
        with self._lock:
            entry = self._entries.get(url)
        if isinstance(entry, _Failure):
            if time.monotonic() < entry.until:
                raise entry.error()
            return None
        return entry

    def _remember(self, url: str, entry: rsa.RSAPublicKey | _Failure) -> None:
        with self._lock:
            self._entries[url] = entry
            self._entries.move_to_end(url)
            while len(self._entries) > MAX_CACHED_CERTIFICATES:
                self._entries.popitem(last=False)

    @staticmethod
    def _fetch(url: str, http: httpx.Client, policy: RetryPolicy, now: datetime) -> rsa.RSAPublicKey:
        try:
            response = send_with_retries(http, lambda: http.build_request("GET", url), policy)
        except ProviderUnavailable as exc:
            raise VerificationUnavailable(
                f"the PayPal signing certificate could not be fetched: {exc.message}"
            ) from None
        if response.status_code != 200 or len(response.content) > MAX_CERTIFICATE_BYTES:
            raise SignatureRejected(f"PAYPAL-CERT-URL answered HTTP {response.status_code}, not a certificate")
        try:
            certificate = x509.load_pem_x509_certificate(response.content)
        except ValueError:
            raise SignatureRejected("PAYPAL-CERT-URL did not serve a PEM certificate") from None
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise SignatureRejected("the PayPal signing certificate is expired or not yet valid")
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureRejected("the PayPal signing certificate does not hold an RSA key")
        return key


CERTIFICATES = CertificateStore()


def allowed_cert_url(url: str, prefixes: list[str]) -> str | None:
    """The normalised certificate URL when it names a file directly under one of `prefixes`, else None."""
    raw_path = urlsplit(url).path
    if "%" in url or any(segment in (".", "..") for segment in raw_path.split("/")):
        return None  # never let a normaliser decide where a dot-segment or an escape leads
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    if parsed.userinfo or parsed.query or parsed.fragment:
        return None
    for prefix in filter(None, prefixes):
        allowed = httpx.URL(prefix)
        name = parsed.path.removeprefix(allowed.path) if parsed.path.startswith(allowed.path) else ""
        if _origin(parsed) == _origin(allowed) and allowed.path.endswith("/") and _plain_name(name):
            return prefix + name  # the configured prefix itself, not the sender's spelling of it
    return None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _plain_name(name: str) -> bool:
    return _CERT_NAME.match(name) is not None and name not in (".", "..")


def verify(
    headers: Mapping[str, str],
    body: bytes,
    settings: Settings,
    http: httpx.Client,
    now: datetime | None = None,
    certificates: CertificateStore = CERTIFICATES,
) -> Transmission:
    """The verified transmission; SignatureRejected or VerificationUnavailable otherwise."""
    if not settings.paypal_webhook_id:
        raise VerificationUnavailable("PAYPAL_WEBHOOK_ID is not configured: PayPal events cannot be verified")
    transmission = Transmission.from_headers(headers)
    if transmission.auth_algo != AUTH_ALGO:
        raise SignatureRejected(f"PAYPAL-AUTH-ALGO must be {AUTH_ALGO}")
    now = now or datetime.now(UTC)
    try:
        sent = datetime.fromisoformat(transmission.transmission_time.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureRejected("PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time") from None
    if sent.tzinfo is None:
        raise SignatureRejected("PAYPAL-TRANSMISSION-TIME has no time zone")
    if abs((now - sent).total_seconds()) > settings.paypal_webhook_tolerance_s:
        raise SignatureRejected(
            f"PAYPAL-TRANSMISSION-TIME is more than {settings.paypal_webhook_tolerance_s} s from now (a replay?)"
        )
    cert_url = allowed_cert_url(transmission.cert_url, settings.paypal_cert_url_prefixes)
    if cert_url is None:
        raise SignatureRejected("PAYPAL-CERT-URL is not a PayPal certificate address")
    try:
        signature = base64.b64decode(transmission.signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected("PAYPAL-TRANSMISSION-SIG is not base64") from None
    key = certificates.public_key(cert_url, http, now)
    try:
        key.verify(
            signature,
            signed_message(transmission, settings.paypal_webhook_id, body),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        raise SignatureRejected("the signature does not match this webhook and body") from None
    return transmission
