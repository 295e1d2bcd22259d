"""`GET /api/health`: 200 only when the database is reachable, migrated to head, and Redis answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from harness.core.processes import ServerProcess
from integration_service.db import migrations

pytestmark = pytest.mark.db


def test_healthy(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == f"at head ({migrations.head_revision()})"


def test_unmigrated_database_is_503(service_factory: Callable[..., ServerProcess], empty_database_url: str) -> None:
    service = service_factory(database=empty_database_url, ready_path="/openapi.json")
    response = httpx.get(service.url + "/api/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "expected" in response.json()["checks"]["migrations"]


def test_unreachable_redis_is_503(service_factory: Callable[..., ServerProcess]) -> None:
    service = service_factory(REDIS_URL="redis://127.0.0.1:1/0", ready_path="/openapi.json")
    response = httpx.get(service.url + "/api/health")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("unreachable")
