"""Defects of the payment webhooks and the outbound-URL guard (issue 13: #6, #7, #12, and event ordering)."""

from tests.harness.defects import Defect

WEBHOOKS_DEFECTS: tuple[Defect, ...] = (
    Defect(
        # A forger holding one genuine delivery's headers posts another body under them (CRC32 matched).
        "paypal-transmission-id-not-claimed",
        "api/paypal_webhook.py",
        (
            (
                "        if paypal_events.transmission_used(connection, transmission.transmission_id):\n"
                "            raise ReplayedTransmission(replayed)\n",
                "",
            ),
            (
                "            paypal_events.claim_transmission("
                "connection, transmission.transmission_id, incoming.event_id)\n",
                "",
            ),
        ),
        "PAYPAL-05",
    ),
    Defect(
        # The body's resource applied as sent: a CRC32-matched forgery refunds a sale PayPal never refunded.
        "paypal-event-applied-without-confirming-it-with-paypal",
        "api/paypal_webhook.py",
        (
            (
                "paypal_confirm.Confirmation(event, False) if duplicate else _confirmed(event, incoming, access)",
                "paypal_confirm.Confirmation(event, True)",
            ),
        ),
        "PAYPAL-05",
    ),
    Defect(
        # Every forged webhook naming a missing certificate costs one outgoing fetch.
        "paypal-certificate-failures-not-cached",
        "webhooks/paypal.py",
        (
            (
                "                self._remember("
                "url, _Failure(rejected, str(exc), time.monotonic() + self._failure_ttl_s))\n",
                "",
            ),
        ),
        "SEC-05",
    ),
    Defect(
        # The seed's check: a string prefix and a file-name pattern, which `..` satisfies.
        "paypal-certificate-url-checked-as-a-raw-string",
        "webhooks/paypal.py",
        (
            (
                '    if "%" in url or any(segment in (".", "..") for segment in raw_path.split("/")):\n',
                "    for prefix in filter(None, prefixes):\n"
                "        if url.startswith(prefix) and _CERT_NAME.match(url[len(prefix) :]):\n"
                "            return url\n"
                "    if raw_path is None:\n",
            ),
        ),
        "SEC-05",
    ),
    Defect(
        # Only dotted addresses recognised when a URL is given: 0x0a000001, 167772161, 012.1 get through it.
        "outbound-guard-misses-numeric-address-forms",
        "security/outbound.py",
        (("        return ipaddress.IPv4Address(socket.inet_aton(bare))\n", "        return None\n"),),
        "SEC-02",
    ),
    Defect(
        # "The last event delivered wins": an older Stripe event overwrites the newer state.
        "older-stripe-event-overwrites-newer-state",
        "db/newer_state.py",
        (
            (
                "    return stored_at.is_(None) | (stored_at <= news_at)\n",
                "    return stored_at.is_(None) | (stored_at <= news_at) | (stored_at > news_at)\n",
            ),
        ),
        "STRIPE-04",
    ),
)
