"""Fixture plugins shared by every test directory."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.sandbox",
    "tests.fixtures.service",
    "tests.fixtures.connections",
]
