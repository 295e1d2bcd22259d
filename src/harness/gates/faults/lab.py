"""The fault matrix's stack and the few moves its cells share.

A stack of its own: an embedded PostgreSQL on a data directory no other gate uses (cell 2 stops and
starts that server), the provider sandbox and the service as real processes. Each cell makes its own
users, organisations and integrations; what it checks is read from the sandbox (what the provider
holds) and from the database (what the service stored and logged), never from the service's word alone.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from psycopg.rows import dict_row

from harness.core import polling
from harness.core.database import drop_database
from harness.core.paths import PROJECT_ROOT
from harness.stack.local import LocalStack
from harness.stack.oauth import connect_via_oauth
from harness.stack.tokens import issue_token_on

DATA_DIR = PROJECT_ROOT / ".stack" / "pgdata-faults"
HTTP_TIMEOUT_S = 30.0
# The service's outbound reads time out after READ_TIMEOUT_S; a sandbox page held for HOLD_MS (< that)
# keeps a sync "in the middle" long enough to act on it, and one held for STALL_MS (> that) times out.
READ_TIMEOUT_S = 4.0
HOLD_MS = 3000
STALL_MS = 5000
SERVICE_ENV = {
    # Retries keep their shape (exponential, jitter, Retry-After honoured) but start small, as in the
    # scenario gate's stack, so a retried page costs a fraction of a second.
    "HTTP_RETRY_INITIAL_WAIT_S": "0.05",
    "HTTP_RETRY_BACKOFF_MAX_S": "0.5",
    "HTTP_RETRY_ATTEMPTS": "4",
    "HTTP_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
    # The cells drive the service hard from one address on purpose (e.g. a stream of requests while the
    # database restarts, when answers come fast): rate limiting is not what they test (SEC-04 does), and a
    # full bucket of the shared address would hide the recovery they measure.
    "RATE_LIMIT": "100000/minute",
}

T = TypeVar("T")


class CellFailed(Exception):
    """A cell saw something other than "nothing lost and the log telling the truth"; the message says what."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CellFailed(message)


def answer(response: httpx.Response, status: int, what: str) -> Any:
    """The JSON body of a response that must have `status`."""
    require(
        response.status_code == status,
        f"{what}: expected {status}, got {response.status_code}: {response.text[:300]}",
    )
    return response.json() if response.content else None


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 30.0, every_s: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; CellFailed naming `what` when it never does."""
    return polling.wait_for(what, probe, timeout_s, every_s, failure=CellFailed)


@dataclass
class User:
    account: str
    client: httpx.Client  # carries the user's Bearer token


@dataclass
class FaultLab:
    """Started by `lab()`; the cells use its clients and helpers, the runner its restart moves."""

    stack: LocalStack
    service_url: str
    sandbox_url: str
    database_url: str
    control: httpx.Client  # the sandbox's control API
    _clients: list[httpx.Client] = field(default_factory=list)

    # --- users, accounts, integrations -------------------------------------------------------------

    def user(self, label: str) -> User:
        account = f"faults-{label}-{uuid.uuid4().hex[:8]}"
        token = issue_token_on(self.database_url, "local", account, "fault matrix")
        client = self.client(self.service_url, headers={"Authorization": f"Bearer {token}"})
        return User(account, client)

    def client(self, base_url: str, **options: Any) -> httpx.Client:
        client = httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S, **options)
        self._clients.append(client)
        return client

    def xero_organisation(self, invoices: int) -> str:
        made = self.control.post("/tenants", json={"provider": "xero", "invoices": invoices, "contacts": 1})
        tenant_id: str = answer(made, 201, "a new Xero organisation at the sandbox")["tenant_id"]
        return tenant_id

    def connect_xero(self, user: User, tenants: str, **query: str) -> str:
        """The id of a Xero integration of `user`, connected through the real OAuth flow; the consent
        covers `tenants` (comma-separated), `query` goes to the connect route (e.g. tenantId)."""
        integration = connect_via_oauth(user.client, self.client(""), "xero", tenants, **query)
        return str(integration["id"])

    def sync(self, user: User, integration_id: str) -> httpx.Response:
        body = {"integrationId": integration_id, "dataType": "invoices"}
        return user.client.post("/api/integrations/sync", json=body)

    def sandbox_invoice_count(self, tenant_id: str) -> int:
        tenants = answer(self.control.get("/tenants", params={"provider": "xero"}), 200, "Xero organisations")
        return int(next(t["invoices"] for t in tenants if t["tenant_id"] == tenant_id))

    # --- faults ------------------------------------------------------------------------------------

    def add_fault(self, **rule: Any) -> int:
        fault_id: int = answer(self.control.post("/faults", json=rule), 201, f"the sandbox fault {rule}")["id"]
        return fault_id

    def armed_faults(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = answer(self.control.get("/faults"), 200, "the sandbox's fault rules")
        return rules

    def xero_invoice_requests(self) -> list[dict[str, Any]]:
        """The Xero invoice listings the sandbox answered since the last reset, oldest first."""
        seen = self.control.get("/requests", params={"provider": "xero", "path_contains": "/Invoices"})
        requests: list[dict[str, Any]] = answer(seen, 200, "the sandbox's request log")
        return requests

    def xero_page_served(self, page: int) -> bool:
        """Whether the sandbox has answered a Xero invoice page `page` with 200 since the last reset."""
        return any(
            request["query"].get("page") == str(page) and request["status"] == 200
            for request in self.xero_invoice_requests()
        )

    def clear_faults(self) -> None:
        answer(self.control.delete("/faults"), 204, "clearing the sandbox's faults")

    def reset_between_cells(self) -> None:
        self.clear_faults()
        answer(self.control.delete("/requests"), 204, "clearing the sandbox's request log")

    # --- the database ------------------------------------------------------------------------------

    def rows(self, query: str, *params: object) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as connection:
            return connection.execute(query, params).fetchall()

    def sync_logs(self, integration_id: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT status, sync_type, total_records, synced_records, failed_records, error_message, completed_at"
            " FROM integrations_sync_logs WHERE integration_id = %s AND sync_type <> 'webhook' ORDER BY created_at",
            integration_id,
        )

    def integration_row(self, integration_id: str) -> dict[str, Any] | None:
        found = self.rows(
            "SELECT integration_name, custom_data, sync_status, sync_error, last_synced_at"
            " FROM integrations_credentials WHERE id = %s",
            integration_id,
        )
        return found[0] if found else None

    def stored_invoices(self, integration_id: str) -> int:
        found = self.rows("SELECT count(*) AS n FROM xero_invoices WHERE integration_id = %s", integration_id)
        return int(found[0]["n"])

    # --- the processes -----------------------------------------------------------------------------

    def kill_service(self) -> None:
        """SIGKILL: no shutdown hook, no `finally`, exactly what a crash or an OOM kill leaves behind."""
        service = self.stack.service
        assert service is not None
        assert service.process is not None
        service.kill()  # with its sync worker, as on a crashed machine
        service.stop()  # closes its log; the processes are gone already

    def start_service(self) -> None:
        service = self.stack.service
        assert service is not None
        service.start()

    def service_alive(self) -> bool:
        service = self.stack.service
        return service is not None and service.process is not None and service.process.poll() is None

    def stop_database(self) -> None:
        assert self.stack.embedded is not None
        self.stack.embedded.stop()

    def start_database(self) -> None:
        assert self.stack.embedded is not None
        self.stack.embedded.start()

    def database_running(self) -> bool:
        return self.stack.embedded is not None and self.stack.embedded.is_running()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.control.close()


@contextmanager
def in_background(call: Callable[[], T]) -> Iterator[Future[T]]:
    """`call` running on a thread of its own while the block runs; waited for when the block ends."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(call)


@contextmanager
def lab(evidence_dir: Path, service_env: dict[str, str] | None = None) -> Iterator[FaultLab]:
    """The matrix's stack, started; stopped (and its database dropped) afterwards, its logs kept."""
    with _one_matrix_at_a_time():
        stack = LocalStack(
            state_dir=Path(tempfile.mkdtemp(prefix="faults-stack-")),
            database_name=f"faults_{uuid.uuid4().hex[:8]}",
            data_dir=DATA_DIR,
            durable=False,
            service_env={**SERVICE_ENV, **(service_env or {})},
            webhooks_on_demand=True,
        )
        try:
            info = stack.start()
            control = httpx.Client(base_url=f"{info.sandbox_url}/_sandbox", timeout=HTTP_TIMEOUT_S)
            matrix = FaultLab(stack, info.service_url, info.sandbox_url, info.database_url, control)
            try:
                yield matrix
            finally:
                matrix.close()
        finally:  # also when the stack failed to start half-way
            _stop(stack, evidence_dir)


def _stop(stack: LocalStack, evidence_dir: Path) -> None:
    evidence_dir.mkdir(parents=True, exist_ok=True)
    for process in (stack.service, stack.sandbox):
        if process is not None:
            process.stop()
            with suppress(OSError):
                (evidence_dir / f"{process.name.replace(' ', '-')}.log").write_bytes(process.log_path.read_bytes())
    if stack.embedded is not None:
        with suppress(Exception):  # a leftover database is harmless; the run's result matters more
            stack.embedded.start()  # a cell may have left it stopped
            drop_database(stack.embedded.url(), stack.database_name)
    stack.stop()
    shutil.rmtree(stack.state_dir, ignore_errors=True)


@contextmanager
def _one_matrix_at_a_time() -> Iterator[None]:
    """Cell 2 restarts the matrix's PostgreSQL: two matrices (test workers, two terminals) must not share it."""
    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(DATA_DIR.with_suffix(".run-lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
