"""PayPal webhook self-verification, as PayPal documents it ("Integrate webhooks" → "Self-verification").

PayPal signs `<PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook id>|<CRC32 of the raw body,
unsigned decimal>` with SHA256withRSA and sends the base64 signature in PAYPAL-TRANSMISSION-SIG and
the signing certificate's address in PAYPAL-CERT-URL. The webhook id is OUR configured one
(PAYPAL_WEBHOOK_ID), never a value from the request, so an event signed for someone else's webhook
fails. The certificate is fetched only from an address under PAYPAL_CERT_URL_PREFIXES (anyone can
host a certificate: the address is what makes it PayPal's), and cached by address.

Self-verification rather than PayPal's verify-webhook-signature API: no extra call per event, and it
works the same for PayPal's mock events, which that API cannot verify.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

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
# After the allowed prefix only a plain file name: no `..`, query, fragment or encoded characters
# that could walk the path elsewhere on PayPal's host.
_CERT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
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


class CertificateStore:
    """Signing certificates by URL, fetched once (PayPal rotates them rarely and changes the URL when it does)."""

    def __init__(self) -> None:
        self._keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._lock = threading.Lock()

    def public_key(
        self, url: str, http: httpx.Client, now: datetime, policy: RetryPolicy = CERT_FETCH_POLICY
    ) -> rsa.RSAPublicKey:
        with self._lock:
            cached = self._keys.get(url)
        if cached is not None:
            return cached
        key = self._fetch(url, http, policy, now)
        with self._lock:
            self._keys[url] = key
            while len(self._keys) > MAX_CACHED_CERTIFICATES:
                self._keys.popitem(last=False)
        return key

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


def allowed_cert_url(url: str, prefixes: list[str]) -> bool:
    return any(url.startswith(prefix) and _CERT_NAME.match(url[len(prefix) :]) for prefix in prefixes if prefix)


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
    if not allowed_cert_url(transmission.cert_url, settings.paypal_cert_url_prefixes):
        raise SignatureRejected("PAYPAL-CERT-URL is not a PayPal certificate address")
    try:
        signature = base64.b64decode(transmission.signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected("PAYPAL-TRANSMISSION-SIG is not base64") from None
    key = certificates.public_key(transmission.cert_url, http, now)
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
