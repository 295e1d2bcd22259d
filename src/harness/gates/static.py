"""Static gates beside the tools' own: the secrets scan and the dependency audit."""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.core.stages import ALL_STAGES, Stage
from harness.gates.base import GateContext, GateResult
from harness.gates.secrets_scan import scan_repository
from harness.ops.periodic_checks import audit


@dataclass(frozen=True)
class SecretsGate:
    """Passes when no tracked file holds something shaped like a real credential (CQ-06)."""

    name: str = "secrets"
    stages: frozenset[Stage] = ALL_STAGES
    proves: tuple[str, ...] = ("CQ-06",)
    alongside: bool = True  # reads tracked files only: runs at the same time as mypy and the audit

    def run(self, context: GateContext) -> GateResult:
        findings = scan_repository(context.project_root)
        log = context.run_dir / "secrets.log"
        # A finding names the file, line and rule, never the matched text: the report must not spread it.
        lines = [str(finding) for finding in findings]
        log.write_text("\n".join(lines) + "\n" if lines else "no secrets found in tracked files\n", encoding="utf-8")
        if findings:
            return GateResult("failed", f"{len(findings)} possible secret(s):\n" + "\n".join(lines[:20]), (log,))
        return GateResult("passed", "no secrets found in tracked files", (log,))


@dataclass(frozen=True)
class DependencyAuditGate:
    """pip-audit of the installed dependencies. Offline (no vulnerability database), the audit cannot
    say anything: the gate is then `skipped` with the reason, which blocks staging and production, whose
    release needs an answer, and is listed without blocking a local run."""

    name: str = "dependency-audit"
    stages: frozenset[Stage] = ALL_STAGES
    proves: tuple[str, ...] = ("MONTH-05",)
    timeout_s: float = 60.0
    alongside: bool = True  # mostly waits on the vulnerability database: runs at the same time as mypy
    command: tuple[str, ...] | None = None  # pip-audit by default

    def run(self, context: GateContext) -> GateResult:
        outcome = audit(self.timeout_s, list(self.command) if self.command else None)
        log = context.run_dir / "dependency-audit.json"
        log.write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
        if outcome["status"] == "unknown":
            return GateResult("skipped", f"unknown: {outcome['note']}", (log,))
        if outcome["status"] == "failed":
            found = ", ".join(
                f"{dep['name']} {dep['version']} ({', '.join(dep['ids'])})" for dep in outcome["vulnerable"]
            )
            return GateResult("failed", f"vulnerable dependencies: {found}", (log,))
        return GateResult("passed", "pip-audit found no known vulnerability", (log,))
