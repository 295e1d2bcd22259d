"""What outbound HTTPS to providers trusts: the public roots, plus PROVIDER_CA_BUNDLE when it is set.

A stage whose providers are stand-ins (the provider sandbox) behind a private CA sets
PROVIDER_CA_BUNDLE to that CA's PEM file; the real providers' public certificates stay trusted too.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


class CaBundleError(ValueError):
    """PROVIDER_CA_BUNDLE names a file that cannot be read or holds no certificate."""


@cache
def provider_trust(ca_bundle: str | None) -> ssl.SSLContext:
    """`verify=` for every outbound provider client: one context per bundle, shared (it is thread-safe).
    Shared without a bundle too: `verify=True` built a context, loading every public root, for each client
    made (each token request, each Stripe client), milliseconds of CPU and memory churn every time."""
    context = httpx.create_ssl_context()
    if ca_bundle is None:
        return context
    try:
        context.load_verify_locations(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        # The path is configuration, not a secret; the reason says what to fix.
        raise CaBundleError(f"PROVIDER_CA_BUNDLE {ca_bundle} is not a readable PEM bundle: {exc}") from None
    return context
