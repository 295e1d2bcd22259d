"""The import rules of ARCHITECTURE.md, enforced by reading the source (nothing is imported to check)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (what is checked, the top-level packages it must not import, why)
RULES: list[tuple[str, frozenset[str], str]] = [
    (
        "src/integration_service",
        frozenset({"harness", "provider_sandbox"}),
        "production code knows no test tooling",
    ),
    (
        "src/provider_sandbox",
        frozenset({"integration_service"}),
        "simulators are written from the providers' docs",
    ),
    ("steps", frozenset({"integration_service"}), "scenarios treat the service as a black box"),
    ("load", frozenset({"integration_service"}), "load tests treat the service as a black box"),
    ("contract", frozenset({"integration_service"}), "contract tests treat the service as a black box"),
    ("tasks.py", frozenset({"integration_service", "provider_sandbox"}), "tasks are thin: they call harness"),
]


def imported_modules(source: str, module_name: str) -> list[tuple[int, str]]:
    """Every module an import statement names (relative imports resolved), with its line number."""
    found = []
    package_parts = module_name.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


def violations(source: str, module_name: str, forbidden: frozenset[str]) -> list[str]:
    return [
        f"line {line} imports {module}"
        for line, module in imported_modules(source, module_name)
        if module.split(".")[0] in forbidden
    ]


def file_violations(path: Path, forbidden: frozenset[str]) -> list[str]:
    relative = path.relative_to(ROOT)
    parts = relative.with_suffix("").parts
    module_name = ".".join(parts[1:] if parts[0] == "src" else parts)
    source = path.read_text(encoding="utf-8")
    return [f"{relative}: {problem}" for problem in violations(source, module_name, forbidden)]


def python_files(target: str) -> list[Path]:
    path = ROOT / target
    if path.is_file():
        return [path]
    return sorted(path.rglob("*.py")) if path.is_dir() else []


@pytest.mark.parametrize(("target", "forbidden", "reason"), RULES, ids=[rule[0] for rule in RULES])
def test_import_rule(target: str, forbidden: frozenset[str], reason: str) -> None:
    found = [problem for path in python_files(target) for problem in file_violations(path, forbidden)]
    rule = f"{target} must not import {', '.join(sorted(forbidden))} ({reason})"
    assert not found, rule + ":\n" + "\n".join(found)


def test_the_rules_look_at_real_code() -> None:
    # A moved package must not turn these checks into checks of nothing.
    assert len(python_files("src/integration_service")) > 5
    assert python_files("src/provider_sandbox")
    assert python_files("tasks.py")


@pytest.mark.parametrize(
    ("source", "module_name", "expected"),
    [
        ("import harness.stack.local", "integration_service.app", ["harness.stack.local"]),
        ("from harness import stack", "integration_service.app", ["harness"]),
        # Relative imports resolve inside their own top-level package, so they cannot cross a rule.
        ("from ..providers import xero", "integration_service.api.x", ["integration_service.providers"]),
        ("def f():\n    import integration_service.db", "provider_sandbox.x", ["integration_service.db"]),
        ("from . import sibling", "integration_service.api.routes", ["integration_service.api"]),
    ],
)
def test_the_checker_finds_imports_in_every_form(source: str, module_name: str, expected: list[str]) -> None:
    assert [module for _, module in imported_modules(source, module_name)] == expected


def test_a_forbidden_import_is_reported_with_its_line() -> None:
    source = "import json\n\nfrom harness.stack.local import LocalStack\n"
    assert violations(source, "integration_service.app", RULES[0][1]) == ["line 3 imports harness.stack.local"]
    assert violations("import json\n", "integration_service.app", RULES[0][1]) == []
