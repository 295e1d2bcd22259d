"""Helpers shared by the pre-deployment step modules (code quality, database, environment, performance):
clean-up at the end of a scenario, SQL on the stage's database, fault rules at the provider sandbox, and
extra service instances.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import psycopg
import pytest

from harness.core.processes import ServerProcess
from harness.core.tls import client_verify
from harness.stack.local import service_process
from steps.common import World, describe


def undo_at_end(request: pytest.FixtureRequest, cleanup: Callable[[], object]) -> None:
    """Undo what a step made when the scenario ends, passed or failed."""
    request.addfinalizer(cleanup)


def stage_sql(world: World) -> psycopg.Connection[tuple[Any, ...]]:
    if world.target.database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: the database items read the stage's database")
    return psycopg.connect(world.target.database_url, autocommit=True)


def add_sandbox_fault(world: World, request: pytest.FixtureRequest, rule: dict[str, Any]) -> None:
    control = world.sandbox()
    added = control.post("/faults", json=rule)
    assert added.status_code in (200, 201), f"the sandbox refused the fault rule: {describe(added)}"
    # A rule left behind would break the scenarios that run after this one.
    rule_url = f"{world.sandbox_url()}/_sandbox/faults/{added.json()['id']}"
    undo_at_end(request, lambda: httpx.delete(rule_url, timeout=30, verify=client_verify(world.target.ca_bundle)))


def start_service_instance(world: World, request: pytest.FixtureRequest, env: Mapping[str, str]) -> ServerProcess:
    database_url = world.target.database_url
    if database_url is None:
        pytest.fail("QA_DATABASE_URL is not set: a service instance needs the stage's database")
    process = service_process(database_url, world.target.run_dir / "pre-deployment-services", env=dict(env))
    undo_at_end(request, process.stop)
    return process.start(timeout_s=60)
