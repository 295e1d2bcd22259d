"""Binds every feature under `features/` to the step definitions: one test per scenario."""

from pytest_bdd import scenarios

scenarios("../features")
