"""Fixtures of the sync tests that start service processes (each with its sync worker) of their own."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.core.database import create_database, drop_database
from harness.core.processes import ServerProcess
from harness.stack.local import sandbox_service_env, service_process
from integration_service.db import migrations
from integration_service.security.api_tokens import issue_token_at
from tests.fixtures.service import FAST_RETRIES, ApiUser, isolated_env
from tests.integration_service.sync.races import SQL

StartService = Callable[..., ServerProcess]


@pytest.fixture
def start_service(service_factory: StartService, sandbox: ServerProcess) -> StartService:
    """Another service process on the session's database and sandbox."""

    def start(**settings: str) -> ServerProcess:
        return service_factory(**sandbox_service_env(sandbox.url), **FAST_RETRIES, **settings)

    return start


@pytest.fixture
def client_to() -> Iterator[Callable[[ServerProcess, ApiUser], httpx.Client]]:
    """A user's client to one given service process (closed after the test)."""
    clients: list[httpx.Client] = []

    def client(process: ServerProcess, user: ApiUser) -> httpx.Client:
        made = httpx.Client(base_url=process.url, headers={"Authorization": f"Bearer {user.token}"}, timeout=60)
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


@dataclass
class OwnInstance:
    """A service and its worker on a database of their own, with one user of it."""

    service: ServerProcess
    user: ApiUser
    sql: SQL


@pytest.fixture
def own_instance(
    database_server_url: str, sandbox: ServerProcess, tmp_path: Path
) -> Iterator[Callable[..., OwnInstance]]:
    """`own_instance(**settings)`: for schedule tests. On the session's database another service's scheduler would
    run any integration that falls due on its own settings (interval, pause), as two deployments sharing one
    database would; here the instance's scheduler is the only one that sees its integrations."""
    opened: list[tuple[str, OwnInstance]] = []

    def start(**settings: str) -> OwnInstance:
        name = f"test_own_{uuid.uuid4().hex[:12]}"
        url = create_database(database_server_url, name)
        migrations.upgrade(url)
        env = isolated_env(**sandbox_service_env(sandbox.url), **FAST_RETRIES, **settings)
        service = service_process(url, tmp_path / name, env=env).start()
        token = issue_token_at(url, f"user-{uuid.uuid4().hex[:10]}")
        client = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        instance = OwnInstance(service, ApiUser("owner", token, client), psycopg.connect(url, autocommit=True))
        opened.append((name, instance))
        return instance

    yield start
    for name, instance in opened:
        instance.user.client.close()
        instance.sql.close()
        instance.service.stop()
        drop_database(database_server_url, name)
