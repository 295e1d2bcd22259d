"""`python -m provider_sandbox`: HTTPS needs both the certificate and its key (serving is tested by the
TLS sandbox fixtures of tests/integration_service/providers/test_provider_tls.py and the stage stack)."""

from __future__ import annotations

import pytest

from provider_sandbox.__main__ import main


@pytest.mark.parametrize("half", [["--tls-cert", "server.pem"], ["--tls-key", "server-key.pem"]])
def test_a_certificate_without_its_key_is_refused_before_serving(
    half: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(half)
    assert exited.value.code == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
