"""Defects of this area (see tests/harness/defects/__init__.py)."""

from tests.harness.defects import Defect

INPUTS_DEFECTS: tuple[Defect, ...] = ()
