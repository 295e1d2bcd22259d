"""Staging and production: the gate tests the build it reports on, or nothing.

The report names the commit of the checkout that runs `invoke qa`; the deployed service names its own
(`GET /api/version`). If they differ, every proof of this run would be about another build than the one
the report (and the production release after it) is for: the gate fails here and the later gates are
held. What the stage said is written to `deployed-build.json` and shown in the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.core.runs import git_state
from harness.core.settings import stage_settings
from harness.core.stages import Stage
from harness.core.tls import client_verify
from harness.gates.base import GateContext, GateResult
from harness.ops.common import OpsError
from harness.ops.deploy import deployed_sha

EVIDENCE_NAME = "deployed-build.json"


@dataclass(frozen=True)
class DeployedBuildGate:
    name: str = "deployed-build"
    stages: frozenset[Stage] = frozenset({"staging", "production"})
    proves: tuple[str, ...] = ()

    def run(self, context: GateContext) -> GateResult:
        settings = stage_settings(context.stage, context.project_root)
        if not settings.service_url:
            return GateResult("failed", "SERVICE_URL is not set: no deployed service to ask for its build")
        expected, _dirty = git_state(context.project_root)
        try:
            reported = deployed_sha(settings.service_url, client_verify(settings.ca_bundle))
        except OpsError as exc:
            return GateResult("failed", f"the stage did not say which build it runs: {exc}")
        path = context.run_dir / EVIDENCE_NAME
        record = {"service_url": settings.service_url, "deployed_sha": reported, "checkout_sha": expected}
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if reported != expected:
            return GateResult(
                "failed",
                f"{context.stage} runs {reported[:12]}, this checkout is {expected[:12]}: deploy {expected[:12]} "
                "(invoke release) or check out the deployed commit before gating it",
                (path,),
            )
        return GateResult("passed", f"{context.stage} runs {reported[:12]}, the commit under test", (path,))


def read_deployed_sha(run_dir: Path) -> str | None:
    """What the stage said it runs, if the gate asked it in this run."""
    try:
        return str(json.loads((run_dir / EVIDENCE_NAME).read_text(encoding="utf-8"))["deployed_sha"])
    except (OSError, ValueError, KeyError):
        return None
