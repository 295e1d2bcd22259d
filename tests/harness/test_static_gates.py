"""The secrets gate and the dependency-audit gate: what they pass, fail and cannot tell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.gates.base import GateContext
from harness.gates.static import DependencyAuditGate, SecretsGate


def context(tmp_path: Path, root: Path) -> GateContext:
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    return GateContext(stage="local", run_dir=run_dir, project_root=root)


def git_repository(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    return root


def test_a_planted_key_fails_the_secrets_gate_without_showing_it(tmp_path: Path) -> None:
    key = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc9x"
    root = git_repository(tmp_path, {"settings.py": f'STRIPE_KEY = "{key}"\n'})
    result = SecretsGate().run(context(tmp_path, root))
    assert result.status == "failed"
    assert "settings.py:1" in result.detail
    assert key not in result.detail
    assert key not in (tmp_path / "run" / "secrets.log").read_text()


def test_a_clean_tree_passes_the_secrets_gate(tmp_path: Path) -> None:
    root = git_repository(tmp_path, {"settings.py": 'STRIPE_KEY = os.environ["STRIPE_KEY"]\n'})
    assert SecretsGate().run(context(tmp_path, root)).status == "passed"


def audit_gate(output: object) -> DependencyAuditGate:
    script = f"import json; print(json.dumps({output!r}))"
    return DependencyAuditGate(command=(sys.executable, "-c", script))


def test_an_unreachable_vulnerability_database_is_unknown_not_passed(tmp_path: Path) -> None:
    gate = DependencyAuditGate(command=(sys.executable, "-c", "import sys; sys.exit('connection refused')"))
    result = gate.run(context(tmp_path, tmp_path))
    assert result.status == "skipped"
    assert result.detail.startswith("unknown: the vulnerability database could not be reached")


def test_a_vulnerable_dependency_fails_the_audit(tmp_path: Path) -> None:
    found = {"dependencies": [{"name": "jinja2", "version": "2.0", "vulns": [{"id": "PYSEC-1"}]}]}
    result = audit_gate(found).run(context(tmp_path, tmp_path))
    assert result.status == "failed"
    assert "jinja2 2.0 (PYSEC-1)" in result.detail
    assert json.loads((tmp_path / "run" / "dependency-audit.json").read_text())["status"] == "failed"


def test_no_known_vulnerability_passes(tmp_path: Path) -> None:
    result = audit_gate({"dependencies": [{"name": "jinja2", "version": "3.1.4", "vulns": []}]}).run(
        context(tmp_path, tmp_path)
    )
    assert result.status == "passed"
