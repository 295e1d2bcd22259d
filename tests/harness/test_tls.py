"""What the harness trusts for a stage's HTTPS: the stage's CA_BUNDLE besides the public roots."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest

from harness.core.tls import client_verify, issue_private_ca
from harness.ops.targets import stage_target


def test_a_private_ca_is_trusted_besides_the_public_roots(tmp_path: Path) -> None:
    tls = issue_private_ca(tmp_path)
    assert stat.S_IMODE(tls.key.stat().st_mode) == 0o600
    context = client_verify(tls.ca_bundle)
    assert isinstance(context, ssl.SSLContext)
    assert client_verify(None) is True
    trusted = context.get_ca_certs(binary_form=True)
    assert ssl.PEM_cert_to_DER_cert(tls.ca_bundle.read_text()) in trusted
    assert len(trusted) > 100  # the public roots stay trusted too


def test_an_unusable_bundle_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    for bundle in (tmp_path / "missing.pem", empty):
        with pytest.raises(ValueError, match=str(bundle)):
            client_verify(bundle)


def test_a_stage_target_carries_the_stage_ca_and_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = issue_private_ca(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://qa@db.invalid:5432/staging")
    monkeypatch.setenv("CA_BUNDLE", str(tls.ca_bundle))
    monkeypatch.setenv("SANDBOX_URL", "https://sandbox.staging.invalid")
    target = stage_target("staging")
    assert target.ca_bundle == tls.ca_bundle
    assert target.sandbox_url == "https://sandbox.staging.invalid"
    assert isinstance(target.verify, ssl.SSLContext)
