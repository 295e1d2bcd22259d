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


def imported_modules(source: str, module_name: str, *, with_names: bool = False) -> list[tuple[int, str]]:
    """Every module an import statement names (relative imports resolved), with its line number.

    With `with_names`, `from package import name` gives `package.name`: the name may be a module.
    """
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
            if with_names:
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def violations(source: str, module_name: str, forbidden: frozenset[str]) -> list[str]:
    return [
        f"line {line} imports {module}"
        for line, module in imported_modules(source, module_name)
        if module.split(".")[0] in forbidden
    ]


def file_violations(path: Path, forbidden: frozenset[str]) -> list[str]:
    source = path.read_text(encoding="utf-8")
    return [f"{path.relative_to(ROOT)}: {problem}" for problem in violations(source, module_name_of(path), forbidden)]


def module_name_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[1:] if parts[0] == "src" else parts)


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


# Inside the service the layers run one way (ARCHITECTURE.md): api -> sync, webhooks -> providers -> db,
# with security (and settings) used by all. (layer, the layers it must not import, why)
SERVICE = "src/integration_service"
SERVICE_LAYERS: list[tuple[str, frozenset[str], str]] = [
    (
        "db",
        frozenset({"api", "sync", "jobs", "webhooks", "providers", "security", "app", "worker"}),
        "the schema and queries are the base",
    ),
    (
        "providers",
        frozenset({"api", "sync", "jobs", "webhooks", "app", "worker"}),
        "providers talk to providers, not to the API",
    ),
    ("sync", frozenset({"api", "jobs", "webhooks", "app", "worker"}), "the sync engine knows no queue and no webhooks"),
    ("jobs", frozenset({"api", "webhooks", "app", "worker"}), "the queue runs syncs for the API and the worker"),
    ("webhooks", frozenset({"api", "sync", "jobs", "app", "worker"}), "webhooks are applied below the API"),
    (
        "security",
        frozenset({"api", "sync", "jobs", "webhooks", "providers", "app", "worker"}),
        "every layer uses security",
    ),
    ("api", frozenset({"app", "worker"}), "app.py wires the API; the API does not reach back"),
]


def layer_violations(source: str, module_name: str, forbidden: frozenset[str]) -> list[str]:
    """Imports of `integration_service.<layer>` for a forbidden layer."""
    found = []
    for line, module in imported_modules(source, module_name, with_names=True):
        parts = module.split(".")
        if len(parts) > 1 and parts[0] == "integration_service" and parts[1] in forbidden:
            found.append(f"line {line} imports {module}")
    return found


@pytest.mark.parametrize(("layer", "forbidden", "reason"), SERVICE_LAYERS, ids=[rule[0] for rule in SERVICE_LAYERS])
def test_service_layer_rule(layer: str, forbidden: frozenset[str], reason: str) -> None:
    files = python_files(f"{SERVICE}/{layer}")
    assert files, f"{SERVICE}/{layer} holds no modules: the rule would check nothing"
    found = [
        f"{path.relative_to(ROOT)}: {problem}"
        for path in files
        for problem in layer_violations(path.read_text(encoding="utf-8"), module_name_of(path), forbidden)
    ]
    rule = f"integration_service.{layer} must not import {', '.join(sorted(forbidden))} ({reason})"
    assert not found, rule + ":\n" + "\n".join(found)


def test_every_service_package_has_a_layer() -> None:
    # A new package must be placed in the order, not escape it.
    packages = {path.parent.name for path in (ROOT / SERVICE).glob("*/__init__.py")}
    assert packages == {layer for layer, _, _ in SERVICE_LAYERS}


# --- the harness in layers -----------------------------------------------------------------------------------------

# Lowest first: a layer imports only itself and the layers before it (ARCHITECTURE.md, "The harness").
HARNESS_LAYERS = ("core", "stack", "ops", "gates", "report", "qa")


def full_names(source: str, module_name: str) -> list[tuple[int, str]]:
    """Every module an import names, plus `package.name` for each name a from-import takes (it may be a module)."""
    return imported_modules(source, module_name) + imported_modules(source, module_name, with_names=True)


def harness_layer(module_name: str) -> int | None:
    parts = module_name.split(".")
    if parts[0] != "harness" or len(parts) < 2 or parts[1] not in HARNESS_LAYERS:
        return None
    return HARNESS_LAYERS.index(parts[1])


def harness_layer_violations(source: str, module_name: str) -> list[str]:
    """One problem per import statement that reaches a later layer than `module_name`'s own."""
    own = harness_layer(module_name)
    if own is None:
        return []
    problems: dict[int, str] = {}
    for line, module in full_names(source, module_name):
        layer = harness_layer(module)
        if layer is not None and layer > own:
            problems.setdefault(
                line, f"line {line}: {module_name} ({HARNESS_LAYERS[own]}) imports {module} ({HARNESS_LAYERS[layer]})"
            )
    return [problems[line] for line in sorted(problems)]


def test_the_harness_layers_import_one_way() -> None:
    harness = ROOT / "src" / "harness"
    found = [
        problem
        for path in sorted(harness.rglob("*.py"))
        for problem in harness_layer_violations(path.read_text(encoding="utf-8"), module_name_of(path))
    ]
    assert not found, f"a harness layer imports a later one (order: {' <- '.join(HARNESS_LAYERS)}):\n" + "\n".join(
        found
    )
    # Every module of the harness sits in a layer: a new top-level module must choose one.
    outside = [
        path.name for path in harness.iterdir() if path.suffix == ".py" and path.stem not in ("__init__", "qa")
    ] + [path.name for path in harness.iterdir() if path.is_dir() and path.name not in (*HARNESS_LAYERS, "templates")]
    assert not [name for name in outside if name != "__pycache__"], f"outside the layers: {outside}"


@pytest.mark.parametrize(
    ("source", "module_name", "expected"),
    [
        ("from integration_service.providers.base import Linked", "integration_service.db.x", 1),
        ("from integration_service import providers", "integration_service.db.x", 1),
        ("from ..providers import base", "integration_service.db.x", 1),
        ("from .. import api", "integration_service.db.x", 1),
        ("import integration_service.sync.engine", "integration_service.db.x", 1),
        ("from integration_service.db.schema import invoices", "integration_service.db.x", 0),
        ("from . import schema", "integration_service.db.x", 0),
        ("from integration_service.settings import Settings", "integration_service.db.x", 0),
    ],
)
def test_the_layer_checker_finds_upward_imports_in_every_form(source: str, module_name: str, expected: int) -> None:
    assert len(layer_violations(source, module_name, SERVICE_LAYERS[0][1])) == expected


@pytest.mark.parametrize(
    ("source", "module_name", "expected"),
    [
        ("from harness.gates.base import Gate", "harness.core.checklist", ["harness.gates.base (gates)"]),
        ("from harness import qa", "harness.stack.local", ["harness.qa (qa)"]),
        ("def f():\n    from ..gates import load", "harness.ops.deploy", ["harness.gates (gates)"]),
        ("from harness.core.paths import ROOT", "harness.gates.load", []),
        ("from harness.gates import base", "harness.gates.faults.gate", []),
    ],
)
def test_a_layer_importing_a_later_one_is_found(source: str, module_name: str, expected: list[str]) -> None:
    assert [problem.split(" imports ")[1] for problem in harness_layer_violations(source, module_name)] == expected


# --- no import circles in src/ -------------------------------------------------------------------------------------


def import_graph(source_root: Path) -> dict[str, set[str]]:
    """Module -> the modules of `source_root` it imports (a from-import's names resolved to modules)."""
    # `package/__init__.py` is imported as `package`, and resolves its relative imports inside `package`.
    files = {path: module_name_of(path) for path in source_root.rglob("*.py")}
    sources = {name.removesuffix(".__init__"): path for path, name in files.items()}
    graph: dict[str, set[str]] = {module: set() for module in sources}
    for module, path in sources.items():
        for _, name in full_names(path.read_text(encoding="utf-8"), files[path]):
            while name and name not in sources:
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan): each is an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.get(module, set()):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_src_has_no_import_circles() -> None:
    graph = import_graph(ROOT / "src")
    assert len(graph) > 100  # the checker reads the real tree
    circles = import_circles(graph)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(circle) for circle in circles)


def test_a_circle_is_found_and_a_chain_is_not() -> None:
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


# A function longer than this says why, in a comment just above it (or above its decorators).
MAX_FUNCTION_LINES = 60
LONG_REASON = "Over 60 lines:"


def unexplained_long_functions(source: str) -> list[tuple[str, int]]:
    """Functions over MAX_FUNCTION_LINES without a LONG_REASON comment in the two lines above them."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([decorator.lineno for decorator in node.decorator_list] + [node.lineno])
            explained = any(LONG_REASON in line for line in lines[max(0, first - 3) : first - 1])
            if length > MAX_FUNCTION_LINES and not explained:
                found.append((node.name, length))
    return found


def test_long_functions_say_why() -> None:
    files = [path for top in ("src", "steps", "load") for path in sorted((ROOT / top).rglob("*.py"))]
    assert len(files) > 200  # the checker reads the real tree
    offenders = [
        f"{path.relative_to(ROOT)}: {name} ({length} lines)"
        for path in files
        for name, length in unexplained_long_functions(path.read_text())
    ]
    assert not offenders, "split these, or say why above them ('# Over 60 lines: ...'):\n" + "\n".join(offenders)


def test_a_long_function_without_a_reason_is_found() -> None:
    body = "\n".join(f"    x{number} = {number}" for number in range(MAX_FUNCTION_LINES))
    unexplained = f"def long():\n{body}\n"
    explained = f"# {LONG_REASON} one table.\n@decorated\ndef long():\n{body}\n"
    short = "def short():\n    return 1\n"
    assert unexplained_long_functions(unexplained) == [("long", MAX_FUNCTION_LINES + 1)]
    assert unexplained_long_functions(explained) == []
    assert unexplained_long_functions(short) == []
