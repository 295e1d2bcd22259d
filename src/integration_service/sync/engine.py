"""Run one sync of one integration and tell the truth about it.

Pages are fetched until the provider says there is no more, the next one while the last one is
stored; each page is upserted in its own transaction (one statement), so progress survives a failure
later on and the counts stay true. The run writes one `integrations_sync_logs` row (`running` →
`success` | `partial` | `failed`, see sync/runs.py) and updates the integration's `sync_status`,
`sync_error` and `last_synced_at`. Nothing stored because of
an error is never a success; an error in one integration touches no other. A process runs at most
one sync per integration at a time (its lock); how many run at once is the worker's concurrency (worker.py).
"""

from __future__ import annotations

import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

import httpx
import structlog
from sqlalchemy import Connection, Engine, RowMapping, func, select

from integration_service.db.engine import StatementCounter
from integration_service.db.schema import integrations_credentials as credentials
from integration_service.db.schema import integrations_sync_logs as sync_logs
from integration_service.providers.base import (
    ApiKeyProvider,
    ApiT,
    Linked,
    OAuthProvider,
    Record,
    RecordSet,
    SyncProvider,
)
from integration_service.providers.credentials import load_api_credentials
from integration_service.providers.errors import ProviderAuthError, ProviderError
from integration_service.providers.http import RetryPolicy
from integration_service.providers.session import ProviderSession
from integration_service.providers.tokens import TokenManager
from integration_service.security.encryption import SecretBox
from integration_service.settings import Settings
from integration_service.sync.ahead import one_ahead
from integration_service.sync.locks import sync_lock
from integration_service.sync.runs import RunClosed, SyncResult, beat, close_run, open_run
from integration_service.sync.schedule import SyncSchedule
from integration_service.sync.upsert import upsert_rows

log = structlog.get_logger(__name__)

# Incremental syncs ask for a little more than strictly new: clocks differ, upserts make overlap harmless.
INCREMENTAL_OVERLAP = timedelta(minutes=5)
__all__ = ["SyncEngine", "SyncRefused", "SyncResult"]


class SyncRefused(Exception):
    """The sync cannot start; `reason` says why (`running`, `busy`, `inactive`, `unsupported`, `not_found`, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class _Run:
    """One run's inputs: the integration as read under its lock, and the statements counted so far."""

    integration: RowMapping
    data_type: str
    full: bool
    queued_id: uuid.UUID | None
    statements: list[int]


class SyncEngine:
    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        settings: Settings,
        providers: dict[str, SyncProvider[Any]],
        http: httpx.Client,
        statements: StatementCounter,
    ) -> None:
        self.engine = engine
        self.box = box
        self.settings = settings
        self.providers = providers
        self.http = http
        self.statements = statements
        self.schedule = SyncSchedule(settings.sync_interval_s, settings.sync_pause_after_failures)

    def check(self, user_id: str, integration_id: uuid.UUID, data_type: str) -> RowMapping:
        """The integration, when a sync of `data_type` can run now; SyncRefused saying why not."""
        integration = self._integration(user_id, integration_id)
        self._plan(integration, data_type)
        return integration

    def run(
        self,
        user_id: str,
        integration_id: uuid.UUID,
        data_type: str,
        full: bool = False,
        queued_id: uuid.UUID | None = None,
    ) -> SyncResult:
        """Run the sync here and now (a worker runs a queued one: `queued_id` is its log row)."""
        integration = self._integration(user_id, integration_id)
        provider, record_sets = self._plan(integration, data_type)
        with self.statements.counting() as statements, sync_lock(self.engine, integration_id) as acquired:
            if not acquired:
                raise SyncRefused("running", "a sync of this integration is already running")
            # Read again under the lock: a delete or a customData change may have landed meanwhile.
            integration = self._integration(user_id, integration_id)
            run = _Run(integration, data_type, full, queued_id, statements)
            result = self._run_locked(run, provider, record_sets)
        log.info(
            "sync finished",
            integration_id=str(integration_id),
            provider=provider.slug,
            status=result.status,
            total=result.total_records,
            synced=result.synced_records,
            failed=result.failed_records,
            duration_ms=result.duration_ms,
            sql_statements=result.sql_statements,
        )
        return result

    def _plan(self, integration: RowMapping, data_type: str) -> tuple[SyncProvider[Any], dict[str, RecordSet]]:
        provider = self.providers.get(integration["integration_type"])
        if provider is None:
            raise SyncRefused("unsupported", f"{integration['integration_type']} integrations have no data sync")
        record_sets = provider.record_sets()
        wanted = list(record_sets) if data_type == "all" else [data_type]
        if any(name not in record_sets for name in wanted):
            raise SyncRefused(
                "unsupported", f"{provider.slug} syncs {', '.join(record_sets)} (or all), not {data_type}"
            )
        if not integration["is_active"]:
            raise SyncRefused("inactive", "the integration is disabled; enable it (isActive) to sync")
        oauth = isinstance(provider, OAuthProvider)
        if not integration["has_access_token" if oauth else "has_api_key"]:
            how = "run the connect flow" if oauth else "set its apiKey"
            raise SyncRefused("not_connected", f"the integration has no credentials yet: {how} first")
        return provider, {name: record_sets[name] for name in wanted}

    def _integration(self, user_id: str, integration_id: uuid.UUID) -> RowMapping:
        with self.engine.connect() as connection:
            row = (
                connection.execute(
                    select(
                        credentials.c.id,
                        credentials.c.user_id,
                        credentials.c.integration_type,
                        credentials.c.is_active,
                        credentials.c.custom_data,
                        credentials.c.last_synced_at,
                        credentials.c.access_token_encrypted.is_not(None).label("has_access_token"),
                        credentials.c.api_key_encrypted.is_not(None).label("has_api_key"),
                    ).where(credentials.c.id == integration_id, credentials.c.user_id == user_id)
                )
                .mappings()
                .one_or_none()
            )
        if row is None:
            raise SyncRefused("not_found", f"integration {integration_id} not found")
        return row

    def _run_locked(self, run: _Run, provider: SyncProvider[Any], record_sets: dict[str, RecordSet]) -> SyncResult:
        started = time.monotonic()
        result = SyncResult()
        integration = run.integration
        integration_id: uuid.UUID = integration["id"]
        log_id = open_run(self.engine, integration, run.data_type, run.queued_id)
        linked = Linked(integration_id, integration["user_id"], dict(integration["custom_data"]))
        failure: ProviderError | None = None
        try:
            api = self.api_for(provider, linked)
            for name, records in record_sets.items():
                # No success since the account was (re)linked (last_synced_at is reset then): fetch everything.
                relinked = integration["last_synced_at"] is None
                since = None if run.full or relinked else self._last_success(integration_id, (name, "all"))
                # The next page is fetched while this one is stored (one ahead, see sync/ahead.py), each
                # page in a transaction of its own on one connection (a checkout per page cost a ping).
                with closing(one_ahead(provider.pages(api, name, since))) as pages, self.engine.connect() as writer:
                    for page in pages:
                        self._store_page(writer, page, records, linked, result, log_id)
        except RunClosed as exc:
            failure = ProviderError(str(exc))
            result.record_error(failure.message)
        except ProviderError as exc:
            failure = exc
            result.record_error(exc.message)
        except Exception:
            log.exception("sync crashed", integration_id=str(integration_id))
            failure = ProviderError("the sync stopped on an internal error; it has been logged")
            result.record_error(failure.message)
        finally:
            result.duration_ms = round((time.monotonic() - started) * 1000)
            result.status = _status(result, failure)
            result.message = _message(result, failure)
            result.sql_statements = run.statements[0]
            if not close_run(self.engine, log_id, integration_id, result, linked.custom_data, self.schedule):
                log.warning("sync given up as interrupted before it finished", integration_id=str(integration_id))
            if isinstance(failure, ProviderAuthError):
                log.warning("sync stopped: authorization failed", integration_id=str(integration_id))
        return result

    @overload
    def api_for(self, provider: OAuthProvider, linked: Linked) -> ProviderSession: ...
    @overload
    def api_for(self, provider: SyncProvider[ApiT], linked: Linked) -> ApiT: ...

    def api_for(self, provider: SyncProvider[Any], linked: Linked) -> Any:
        """How this run talks to the provider: a refreshing OAuth session, or the provider's API-key client."""
        integration_id = linked.integration_id
        assert integration_id is not None
        if isinstance(provider, OAuthProvider):
            tokens = TokenManager(self.engine, self.box, provider.oauth_app(), self.settings)
            return ProviderSession(
                provider,
                linked,
                self.http,
                lambda rejected: tokens.access_token(integration_id, rejected),
                RetryPolicy.from_settings(self.settings),
            )
        assert isinstance(provider, ApiKeyProvider)
        return provider.client(linked, load_api_credentials(self.engine, self.box, integration_id), self.http)

    def _store_page(
        self,
        writer: Connection,
        page: list[Record],
        records: RecordSet,
        linked: Linked,
        result: SyncResult,
        log_id: uuid.UUID,
    ) -> None:
        rows = []
        for record in page:
            try:
                row = records.to_row(record, linked.custom_data)
            except (KeyError, ValueError, TypeError, ProviderError) as exc:
                result.failed_records += 1
                result.record_error(f"a record could not be read ({type(exc).__name__}: {str(exc)[:120]})")
                continue
            rows.append({**row, "integration_id": linked.integration_id, "user_id": linked.user_id})
        with writer.begin():
            if rows:
                upsert_rows(writer, records, rows, self.settings.sync_page_batch_size)
            total, synced = result.total_records + len(page), result.synced_records + len(rows)
            beat(writer, log_id, total, synced, result.failed_records)
        result.total_records += len(page)
        result.synced_records += len(rows)

    def _last_success(self, integration_id: uuid.UUID, sync_types: tuple[str, ...]) -> datetime | None:
        with self.engine.connect() as connection:
            last: datetime | None = connection.execute(
                select(func.max(sync_logs.c.created_at)).where(
                    sync_logs.c.integration_id == integration_id,
                    sync_logs.c.sync_type.in_(sync_types),
                    sync_logs.c.status == "success",
                )
            ).scalar_one()
        return None if last is None else last - INCREMENTAL_OVERLAP


def _status(result: SyncResult, failure: ProviderError | None) -> str:
    if failure is None and result.failed_records == 0:
        return "success"
    return "partial" if result.synced_records > 0 else "failed"


def _message(result: SyncResult, failure: ProviderError | None) -> str:
    counts = f"{result.synced_records} of {result.total_records} records stored"
    if failure is not None:
        return f"{counts}; stopped: {failure.message}"
    if result.failed_records:
        return f"{counts}; {result.failed_records} could not be read"
    return f"{counts} in {result.duration_ms} ms"
