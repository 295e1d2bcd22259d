"""Fixture plugins shared by every test directory, and the rule that sorts tests into tiers."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.sandbox",
    "tests.fixtures.service",
    "tests.fixtures.connections",
]

# Fixtures that start service processes of the test's own (beyond the session's one service and sandbox per
# worker). A test using one belongs to the `e2e` tier, like the modules that mark themselves `e2e` (stacks,
# gates, `invoke` subprocesses, Locust, browsers): `uv run pytest` runs the fast tier, `-m e2e` the rest.
PROCESS_FIXTURES = frozenset({"service_factory"})


@pytest.hookimpl(tryfirst=True)  # before `-m` selects: the mark must be there when it is read
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
