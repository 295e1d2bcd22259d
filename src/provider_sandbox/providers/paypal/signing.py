"""PayPal webhook signing with the sandbox's own certificate, and the verification API's logic.

At start-up the sandbox makes an RSA key and a self-signed X.509 certificate, served at
`/paypal/certs/<cert id>.pem`. Each delivery carries PAYPAL-TRANSMISSION-ID / -TIME / -SIG,
PAYPAL-CERT-URL and PAYPAL-AUTH-ALGO: SHA256withRSA, where the signature is base64 RSA-SHA256
(PKCS#1 v1.5) over `<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, decimal>`.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
import zlib
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from provider_sandbox.core.webhooks import COMMON_VARIANTS, Endpoint, Transmission, tamper

AUTH_ALGO = "SHA256withRSA"
STALE_BY = timedelta(hours=1)
MAX_REMEMBERED = 5000


class CertificateAuthority:
    """One key pair and its self-signed certificate, made once per process."""

    def __init__(self, common_name: str) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert_id = f"CERT-360caa42-fca2a594-{secrets.token_hex(4)}"
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

    def verifies(self, message: bytes, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
            self.certificate.public_key().verify(raw, message, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg,arg-type]
        except (InvalidSignature, ValueError):
            return False
        return True


def signed_message(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


class PayPalSigner:
    variants: tuple[str, ...] = (*COMMON_VARIANTS, "foreign_cert_url")

    def __init__(self, genuine: CertificateAuthority, impostor: CertificateAuthority) -> None:
        self.genuine, self.impostor = genuine, impostor
        # transmission id -> the body it signed, so the verification API can match a re-serialised event
        self.signed: OrderedDict[str, bytes] = OrderedDict()

    def cert_url(self, endpoint: Endpoint) -> str:
        return f"{endpoint.origin}/paypal/certs/{self.genuine.cert_id}.pem"

    def sign(self, endpoint: Endpoint, event: dict[str, Any], body: bytes, variant: str) -> Transmission:
        transmission_id = str(uuid.uuid4())
        moment = datetime.now(UTC) - (STALE_BY if variant == "stale_timestamp" else timedelta())
        transmission_time = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        message = signed_message(transmission_id, transmission_time, endpoint.id, body)
        cert_url = self.cert_url(endpoint)
        if variant == "foreign_cert_url":  # an attacker's own key and certificate, on a non-PayPal path
            signature = self.impostor.sign(message)
            cert_url = f"{endpoint.origin}/_sandbox/paypal/impostor-certs/{self.impostor.cert_id}.pem"
        elif variant == "wrong_secret":  # a key that is not the one in the certificate
            signature = self.impostor.sign(message)
        else:
            signature = self.genuine.sign(message)
        self.signed[transmission_id] = body
        while len(self.signed) > MAX_REMEMBERED:
            self.signed.popitem(last=False)
        headers = {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-CERT-URL": cert_url,
            "PAYPAL-AUTH-ALGO": AUTH_ALGO,
        }
        if variant == "missing_signature":
            del headers["PAYPAL-TRANSMISSION-SIG"]
        return Transmission(headers, tamper(body) if variant == "tampered_body" else body)

    def verify(self, data: dict[str, Any], webhook_ids: set[str]) -> bool:
        """PayPal's verify-webhook-signature: genuine certificate, known webhook, valid signature."""
        cert_url = str(data["cert_url"])
        if data["auth_algo"] != AUTH_ALGO or not cert_url.endswith(f"/paypal/certs/{self.genuine.cert_id}.pem"):
            return False
        if data["webhook_id"] not in webhook_ids:
            return False
        event = data["webhook_event"]
        candidates = [json.dumps(event, separators=(",", ":")).encode()]
        original = self.signed.get(str(data["transmission_id"]))
        if original is not None and json.loads(original) == event:
            candidates.append(original)  # the receiver re-serialised the event it got
        return any(
            self.genuine.verifies(
                signed_message(
                    str(data["transmission_id"]), str(data["transmission_time"]), str(data["webhook_id"]), body
                ),
                str(data["transmission_sig"]),
            )
            for body in candidates
        )
