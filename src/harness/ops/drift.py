"""`invoke drift`: has the sandbox fallen behind the real providers?

For each provider the stage has drift credentials for (`DRIFT_*` in the environment or `.env.<stage>`), the
same read-only requests go to the real provider and to a fresh local provider sandbox. Each real answer is
validated against the provider's official spec (harness.core.provider_specs, as the fidelity gate does),
and its fields are compared with the sandbox's answer to the same request: fields in one and not the other,
statuses that differ. Nothing is written to a provider. The differences are reported, not judged
(`--strict` fails on any).
"""

from __future__ import annotations

import json
import ssl
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.core.provider_specs import SANDBOX_ROOTS, check_response
from harness.core.settings import StageSettings
from harness.core.tls import client_verify
from harness.ops.common import OpsError
from harness.ops.sandbox import sandbox_app
from harness.stack.local import sandbox_process

SANDBOX_REDIRECT = "http://localhost/drift-callback"  # the sandbox's OAuth apps accept any localhost redirect


@dataclass(frozen=True)
class Probe:
    """One read-only request, as the real host spells its path."""

    provider: str
    path: str
    query: dict[str, str] = field(default_factory=dict)


PROBES = (
    Probe("xero", "/connections"),
    Probe("xero", "/api.xro/2.0/Organisation"),
    Probe("xero", "/api.xro/2.0/Invoices", {"page": "1"}),
    Probe("xero", "/api.xro/2.0/Contacts", {"page": "1"}),
    Probe("paypal", "/v1/payments/payment", {"count": "5"}),
    Probe("paypal", "/v1/billing/plans", {"page_size": "5"}),
    Probe("paypal", "/v1/notifications/webhooks"),
)


@dataclass(frozen=True)
class Access:
    """How to call one provider: its API root and the headers that authenticate a request."""

    base_url: str
    headers: dict[str, str]
    verify: ssl.SSLContext | bool = True


@dataclass
class ProbeResult:
    provider: str
    request: str
    real_status: int
    sandbox_status: int
    real_spec: str  # valid, invalid (with the problem), undocumented or outside
    only_real: list[str]
    only_sandbox: list[str]

    @property
    def drifted(self) -> bool:
        return bool(self.only_real or self.only_sandbox) or self.real_status != self.sandbox_status


def field_paths(value: Any, prefix: str = "") -> set[str]:
    """Every field of a JSON value as a dotted path; a list's items merged under `name[]`."""
    if isinstance(value, dict):
        paths = set()
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths |= {path} | field_paths(item, path)
        return paths
    if isinstance(value, list):
        return set().union(*(field_paths(item, f"{prefix}[]") for item in value)) if value else set()
    return set()


def compare(probe: Probe, real: httpx.Response, sandbox: httpx.Response) -> ProbeResult:
    exchange = {
        "method": "GET",
        "path": probe.path,
        "query": probe.query,
        "status": real.status_code,
        "headers": dict(real.headers),
        "body": real.text,
    }
    checked = check_response(probe.provider, exchange)
    real_fields, sandbox_fields = _fields(real), _fields(sandbox)
    return ProbeResult(
        provider=probe.provider,
        request=f"GET {probe.path}" + (f"?{httpx.QueryParams(probe.query)}" if probe.query else ""),
        real_status=real.status_code,
        sandbox_status=sandbox.status_code,
        real_spec=checked.verdict + (f": {checked.problem}" if checked.problem else ""),
        only_real=sorted(real_fields - sandbox_fields),
        only_sandbox=sorted(sandbox_fields - real_fields),
    )


def _fields(response: httpx.Response) -> set[str]:
    try:
        return field_paths(response.json())
    except ValueError:
        return set()


def real_access(settings: StageSettings) -> dict[str, Access]:
    """The providers the stage has drift credentials for, ready to call."""
    verify = client_verify(settings.ca_bundle)
    providers: dict[str, Access] = {}
    if settings.drift_xero_access_token is not None:
        if not settings.drift_xero_tenant_id:
            raise OpsError("DRIFT_XERO_ACCESS_TOKEN is set without DRIFT_XERO_TENANT_ID (the Xero-tenant-id header)")
        providers["xero"] = Access(
            settings.drift_xero_api_base,
            _xero_headers(settings.drift_xero_access_token.get_secret_value(), settings.drift_xero_tenant_id),
            verify,
        )
    if settings.drift_paypal_client_id and settings.drift_paypal_client_secret is not None:
        secret = settings.drift_paypal_client_secret.get_secret_value()
        base = settings.drift_paypal_api_base
        token = _paypal_token(base, (settings.drift_paypal_client_id, secret), verify)
        providers["paypal"] = Access(base, {"Authorization": f"Bearer {token}"}, verify)
    return providers


def _xero_headers(token: str, tenant_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Xero-tenant-id": tenant_id, "Accept": "application/json"}


def _paypal_token(base: str, client: tuple[str, str], verify: ssl.SSLContext | bool) -> str:
    with httpx.Client(verify=verify, timeout=30) as http:
        answer = http.post(f"{base}/v1/oauth2/token", data={"grant_type": "client_credentials"}, auth=client)
    if answer.status_code != 200:  # the body may echo the request; the status says enough
        raise OpsError(f"PayPal refused the drift credentials at {base}: HTTP {answer.status_code}")
    return str(answer.json()["access_token"])


def sandbox_access(sandbox_url: str, http: httpx.Client, verify: ssl.SSLContext | bool = True) -> dict[str, Access]:
    """The same providers in a sandbox, through its own default apps (an OAuth consent for Xero). `http` and
    `verify` trust the sandbox's certificate when it serves HTTPS."""
    xero = sandbox_app("xero")
    consent = http.get(
        f"{sandbox_url}/xero/login/identity/connect/authorize",
        params={
            "client_id": xero[0],
            "redirect_uri": SANDBOX_REDIRECT,
            "response_type": "code",
            "scope": "openid offline_access accounting.transactions.read accounting.contacts.read",
            "state": "drift",
        },
    )
    code = httpx.URL(consent.headers["location"]).params["code"]
    token = http.post(
        f"{sandbox_url}/xero/identity/connect/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": SANDBOX_REDIRECT},
        auth=xero,
    ).json()["access_token"]
    xero_api = f"{sandbox_url}{SANDBOX_ROOTS['xero']}"
    tenant = http.get(f"{xero_api}/connections", headers={"Authorization": f"Bearer {token}"}).json()[0]["tenantId"]
    paypal_api = f"{sandbox_url}{SANDBOX_ROOTS['paypal']}"
    paypal_token = _paypal_token(paypal_api, sandbox_app("paypal"), verify)
    return {
        "xero": Access(xero_api, _xero_headers(token, tenant)),
        "paypal": Access(paypal_api, {"Authorization": f"Bearer {paypal_token}"}),
    }


@contextmanager
def local_sandbox() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="drift-sandbox-") as folder, sandbox_process(Path(folder)) as process:
        yield process.url


def probe(access: Access, request: Probe) -> httpx.Response:
    with httpx.Client(verify=access.verify, timeout=30) as http:
        return http.get(access.base_url + request.path, params=request.query, headers=access.headers)


def run_drift(settings: StageSettings, say: Callable[[str], None]) -> list[ProbeResult]:
    """Every probe of every provider the stage has credentials for, real against the sandbox."""
    real = real_access(settings)
    if not real:
        raise OpsError(
            "no provider to check: set DRIFT_XERO_ACCESS_TOKEN and DRIFT_XERO_TENANT_ID, or DRIFT_PAYPAL_CLIENT_ID"
            " and DRIFT_PAYPAL_CLIENT_SECRET (see README, 'Drift against the real providers')"
        )
    with httpx.Client(timeout=30, follow_redirects=False) as http, local_sandbox() as sandbox_url:
        sandbox = sandbox_access(sandbox_url, http)
        results = [
            compare(request, probe(real[request.provider], request), probe(sandbox[request.provider], request))
            for request in PROBES
            if request.provider in real
        ]
    for provider in sorted({"xero", "paypal"} - set(real)):
        say(f"{provider}: not checked (no drift credentials for it)")
    for result in results:
        say(describe(result))
    return results


def describe(result: ProbeResult) -> str:
    status = f"HTTP {result.real_status}" + (
        f" (sandbox {result.sandbox_status})" if result.sandbox_status != result.real_status else ""
    )
    lines = [f"{result.provider} {result.request}: {status}, real answer against the spec: {result.real_spec}"]
    if result.only_real:
        lines.append(f"    only the real provider sends: {', '.join(result.only_real[:20])}")
    if result.only_sandbox:
        lines.append(f"    only the sandbox sends: {', '.join(result.only_sandbox[:20])}")
    return "\n".join(lines)


def write_drift(results: list[ProbeResult], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "drift.json"
    document = [{**asdict(result), "drifted": result.drifted} for result in results]
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
