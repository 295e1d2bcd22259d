"""What outbound HTTPS trusts: one shared context per bundle, verifying, with the public roots loaded."""

from __future__ import annotations

import ssl

from integration_service.security.tls import provider_trust


def test_without_a_bundle_every_client_shares_one_verifying_context_of_the_public_roots() -> None:
    # Built once: a context per client (verify=True) loaded every root for each token request and Stripe
    # client, which made the web process grow by ~90 MB under the gate's load profile (issue 16).
    context = provider_trust(None)
    assert context is provider_trust(None)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 50
