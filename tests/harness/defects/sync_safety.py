"""Defects of this area (see tests/harness/defects/__init__.py)."""

from tests.harness.defects import Defect

SYNC_SAFETY_DEFECTS: tuple[Defect, ...] = ()
