"""Defects of this area (see tests/harness/defects/__init__.py)."""

from tests.harness.defects import Defect

EDGE_DEFECTS: tuple[Defect, ...] = ()
