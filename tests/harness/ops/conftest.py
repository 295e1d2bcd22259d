"""Fixtures of the ops tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from harness.core.database import create_database, drop_database
from integration_service.db import migrations


@pytest.fixture
def drill_database(database_server_url: str) -> Iterator[str]:
    name = f"drill_{uuid.uuid4().hex[:10]}"
    url = create_database(database_server_url, name)
    migrations.upgrade(url)
    yield url
    drop_database(database_server_url, name)
