"""Defects of this area (see tests/harness/defects/__init__.py)."""

from tests.harness.defects import Defect

WEBHOOKS_DEFECTS: tuple[Defect, ...] = ()
