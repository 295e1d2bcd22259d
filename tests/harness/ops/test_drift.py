"""`invoke drift` with a provider sandbox over HTTPS (a private CA) standing in for the real Xero and PayPal:
the real answers are checked against the specs and compared field by field with a fresh sandbox's."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from harness.core.paths import PROJECT_ROOT
from harness.core.processes import ServerProcess, free_port
from harness.core.provider_specs import missing_specs
from harness.core.settings import StageSettings
from harness.core.tls import client_verify, issue_private_ca
from harness.ops.common import OpsError
from harness.ops.drift import PROBES, field_paths, run_drift, sandbox_access, write_drift

pytestmark = [
    pytest.mark.skipif(bool(missing_specs()), reason=f"provider specs not present: {missing_specs()}"),
    pytest.mark.e2e,  # three sandbox processes
]


def test_field_paths_name_every_field_and_merge_list_items() -> None:
    value = {"Invoices": [{"Total": 1, "Contact": {"Name": "a"}}, {"Total": 2, "Status": "PAID"}], "Id": "x"}
    assert field_paths(value) == {
        "Invoices",
        "Invoices[].Total",
        "Invoices[].Contact",
        "Invoices[].Contact.Name",
        "Invoices[].Status",
        "Id",
    }


@pytest.fixture(scope="module")
def real_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """The sandbox as `python -m provider_sandbox` over HTTPS, as a stage's providers are served."""
    folder = tmp_path_factory.mktemp("real-provider")
    tls = issue_private_ca(folder / "tls")
    port = free_port()
    command = [sys.executable, "-m", "provider_sandbox", "--host", "127.0.0.1", "--port", str(port)]
    process = ServerProcess(
        name="stand-in provider",
        command=[*command, "--tls-cert", str(tls.cert), "--tls-key", str(tls.key)],
        port=port,
        log_path=folder / "provider.log",
        ready_path="/_sandbox/health",
        tls=tls,
    )
    with process:
        yield process, tls.ca_bundle


def drift_settings(real_provider: tuple[ServerProcess, Path]) -> StageSettings:
    process, ca_bundle = real_provider
    verify = client_verify(ca_bundle)
    with httpx.Client(verify=verify, timeout=30) as http:
        access = sandbox_access(process.url, http, verify)
    return StageSettings(
        _env_file=None,  # pydantic-settings: no .env of the developer's
        ca_bundle=ca_bundle,
        drift_xero_api_base=access["xero"].base_url,
        drift_xero_access_token=SecretStr(access["xero"].headers["Authorization"].removeprefix("Bearer ")),
        drift_xero_tenant_id=access["xero"].headers["Xero-tenant-id"],
        drift_paypal_api_base=f"{process.url}/paypal",
        drift_paypal_client_id="sandbox-paypal-client",
        drift_paypal_client_secret=SecretStr("sandbox-paypal-secret"),
    )


def test_a_provider_that_behaves_like_the_sandbox_shows_no_drift(
    real_provider: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    lines: list[str] = []
    results = run_drift(drift_settings(real_provider), say=lines.append)
    assert [result.request.split("?")[0] for result in results] == [f"GET {probe.path}" for probe in PROBES]
    assert [result for result in results if result.drifted] == []
    by_request = {result.request: result for result in results}
    assert by_request["GET /api.xro/2.0/Invoices?page=1"].real_spec == "valid"
    assert by_request["GET /connections"].real_spec == "valid"
    assert by_request["GET /api.xro/2.0/Invoices?page=1"].real_status == 200
    path = write_drift(results, tmp_path / "drift")
    assert '"drifted": false' in path.read_text()
    assert len(lines) == len(results)
    assert not any("sandbox-paypal-secret" in line for line in lines)


def test_a_provider_answering_differently_is_reported(real_provider: tuple[ServerProcess, Path]) -> None:
    process, ca_bundle = real_provider
    settings = drift_settings(real_provider)
    with httpx.Client(base_url=process.url, verify=client_verify(ca_bundle), timeout=30) as control:
        made = control.post("/_sandbox/faults", json={"provider": "xero", "path": "/Contacts", "status": 503})
        assert made.status_code == 201, made.text
        try:
            results = run_drift(settings, say=lambda line: None)
        finally:
            control.delete("/_sandbox/faults").raise_for_status()
    contacts = next(result for result in results if result.request.startswith("GET /api.xro/2.0/Contacts"))
    assert contacts.drifted
    assert (contacts.real_status, contacts.sandbox_status) == (503, 200)
    assert "Contacts" in contacts.only_sandbox
    invoices = next(result for result in results if result.request.startswith("GET /api.xro/2.0/Invoices"))
    assert not invoices.drifted


def test_no_credentials_is_a_clear_error() -> None:
    with pytest.raises(OpsError, match="DRIFT_XERO_ACCESS_TOKEN"):
        run_drift(StageSettings(_env_file=None), say=print)


def test_the_drift_task_is_documented() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "uv run invoke drift --stage staging" in readme
