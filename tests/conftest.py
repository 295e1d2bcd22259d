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


# The tier a run selected, written into its JUnit report (a testsuite property) so that the release gate's
# pytest item can say which tiers it judged. Other selections are named by their expression.
TIERS = {"not e2e and not drill": "fast", "e2e": "e2e", "drill": "drill"}


@pytest.hookimpl(trylast=True)  # after the JUnit writer is configured
def pytest_configure(config: pytest.Config) -> None:
    from _pytest.junitxml import xml_key  # the writer's stash key, as `record_testsuite_property` reads it

    writer = config.stash.get(xml_key, None)  # only the process that writes the report (xdist's controller)
    if writer is not None:
        selected = config.option.markexpr
        writer.add_global_property("tier", TIERS.get(selected, f"-m {selected}" if selected else "all"))


@pytest.hookimpl(tryfirst=True)  # before `-m` selects: the mark must be there when it is read
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
