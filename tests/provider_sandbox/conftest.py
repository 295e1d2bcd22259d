"""One real sandbox process per test session, reached over real HTTP with httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.core.processes import ServerProcess
from harness.stack.local import sandbox_process as new_sandbox_process
from tests.fixtures.sandbox import LIFTED_XERO_LIMITS
from tests.provider_sandbox.helpers import SEED_CONTACTS, SEED_INVOICES
from tests.provider_sandbox.receiver import Receiver, webhook_receiver


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A sandbox of these tests' own: they reset and reshape its state, which the service tests must not see."""
    # Lifted: these tests page the default Xero organisation far beyond 60 calls a minute; the tests of the
    # budgets themselves lower them back for a tenant of their own (test_xero_limits.py).
    env = {
        "SANDBOX_SEED_INVOICES": str(SEED_INVOICES),
        "SANDBOX_SEED_CONTACTS": str(SEED_CONTACTS),
        **LIFTED_XERO_LIMITS,
    }
    with new_sandbox_process(tmp_path_factory.mktemp("provider-sandbox"), env=env) as process:
        yield process


@pytest.fixture(scope="session")
def http(sandbox_process: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_process.url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="session")
def default_tenants(http: httpx.Client) -> dict[str, str]:
    """provider -> id of its default tenant (stable: tenant ids derive from fixed labels)."""
    tenants = http.get("/_sandbox/tenants").json()
    return {t["provider"]: t["tenant_id"] for t in tenants if t["default"]}


@pytest.fixture(autouse=True)
def _no_leftover_faults(http: httpx.Client) -> Iterator[None]:
    yield
    http.delete("/_sandbox/faults")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server of the test's own that records the webhook deliveries it receives."""
    with webhook_receiver() as receiver:
        yield receiver
