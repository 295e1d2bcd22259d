"""Every area's defects, in one tuple: add a module here when an area gets its own."""

from tests.harness.defects import Defect
from tests.harness.defects.edge import EDGE_DEFECTS
from tests.harness.defects.faults import FAULTS_DEFECTS
from tests.harness.defects.inputs import INPUTS_DEFECTS
from tests.harness.defects.seed import SEED_DEFECTS
from tests.harness.defects.sync_safety import SYNC_SAFETY_DEFECTS
from tests.harness.defects.webhooks import WEBHOOKS_DEFECTS


def all_defects() -> tuple[Defect, ...]:
    return (*SEED_DEFECTS, *EDGE_DEFECTS, *INPUTS_DEFECTS, *SYNC_SAFETY_DEFECTS, *WEBHOOKS_DEFECTS, *FAULTS_DEFECTS)
