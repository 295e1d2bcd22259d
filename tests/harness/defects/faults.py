"""Defects of this area (see tests/harness/defects/__init__.py)."""

from tests.harness.defects import Defect

FAULTS_DEFECTS: tuple[Defect, ...] = ()
