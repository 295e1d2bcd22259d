"""What an operational scenario's steps hand on to later ones (`OpsLab.facts`), typed field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import redis

from harness.ops.backup import Backup
from harness.ops.common import Target
from harness.ops.migrate import MigrationResult
from harness.ops.monitor import MonitorResult
from harness.ops.smoke import SmokeResult

T = TypeVar("T")


class Handed(Generic[T]):
    """One step's result a later step reads: typed, and an error naming it when no earlier step set it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Handed[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> Handed[T] | T:
        if instance is None:
            return self
        if self.name not in instance.__dict__:
            raise AssertionError(f"no earlier step of this scenario set {self.name!r}")
        value: T = instance.__dict__[self.name]
        return value

    def __set__(self, instance: object, value: T) -> None:
        instance.__dict__[self.name] = value


class OpsFacts:
    """What an operational scenario's steps hand on to later ones. A `Handed` field is read only after a step
    set it; an optional one is None until a step set it (its absence is what some steps check)."""

    # deployments
    service_env = Handed[dict[str, str]]()
    paypal_webhook_id = Handed[str]()
    deployed_file = Handed[Path]()
    # migrations and backups
    counts_before = Handed[dict[str, int]]()
    snapshot = Handed[dict[str, Any]]()
    migration = Handed[MigrationResult]()
    backup = Handed[Backup]()
    # releases and rollbacks
    previous_sha = Handed[str]()
    released_sha = Handed[str]()
    plan = Handed[dict[str, Any]]()
    pid_before_rollback = Handed[int]()
    rollback = Handed[dict[str, Any]]()
    rollback_cache = Handed[tuple[redis.Redis, str] | None]()  # (client, another stage's prefix); None: no Redis
    # staging rehearsals
    integration = Handed[str]()
    owner = Handed[str]()
    copy = Handed[str]()  # the URL of the database restored from the stage's backup
    copy_counts = Handed[dict[str, int]]()
    live_sha = Handed[str]()
    revision = Handed[str | None]()
    cache_target = Handed[Target]()
    cache_removed = Handed[int | None]()
    # smoke tests
    xero_integration = Handed[str]()
    smoke = Handed[SmokeResult]()
    paypal_event = Handed[str]()
    paypal_attempts = Handed[list[Any]]()
    # reports
    openapi = Handed[dict[str, Any]]()

    def __init__(self) -> None:
        self.pids: list[int] = []  # the service's process ids, deployment after deployment
        self.tokens: dict[str, str] = {}  # API tokens of the scratch stage's users, by the scenario's names
        self.deploy_refusal: str | None = None
        self.migration_stopped: str | None = None
        self.release: dict[str, Any] | None = None
        self.release_failed: str | None = None
        self.stage_cache: tuple[redis.Redis, str, str] | None = None  # (client, own prefix, other key); None: no Redis
        self.report: dict[str, Any] | None = None
        self.monitor: MonitorResult | None = None
