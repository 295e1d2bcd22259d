"""A pytest plugin for the scenario run (`-p harness.gates.scenario_results`): one JSON record per scenario
with its tags (outline Examples tags included, which cucumber.json leaves out), its steps and, when it
failed, the failing step and assertion. The gate reads the file back to fill the checklist."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.reporting import test_report_context_registry

RESULTS_OPTION = "--scenario-results"
_FAILURE_CHARACTERS = 4000
_PYTEST_MARKERS = frozenset({"parametrize", "usefixtures", "filterwarnings", "skip", "skipif", "xfail"})


@dataclass(frozen=True)
class StepOutcome:
    text: str  # keyword and text, as written in the feature
    status: str  # passed | failed | not run


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario as it ran, in the words of its feature file."""

    feature: str
    name: str
    tags: tuple[str, ...]
    status: str  # passed | failed | skipped
    steps: tuple[StepOutcome, ...] = ()
    failure: str = ""  # the failing assertion (or why it was skipped)
    node_id: str = ""


def read_results(path: Path) -> list[ScenarioOutcome]:
    if not path.exists():
        return []
    records = json.loads(path.read_text(encoding="utf-8"))
    return [
        ScenarioOutcome(
            feature=record["feature"],
            name=record["name"],
            tags=tuple(record["tags"]),
            status=record["status"],
            steps=tuple(StepOutcome(**step) for step in record["steps"]),
            failure=record["failure"],
            node_id=record["node_id"],
        )
        for record in records
    ]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(RESULTS_OPTION, help="write one JSON record per scenario to this file")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption(RESULTS_OPTION)
    if path:
        config.pluginmanager.register(_Recorder(Path(path)), "scenario-results-recorder")


class _Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tags: dict[str, set[str]] = {}
        self.records: dict[str, dict[str, Any]] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # The item's markers hold every tag: the feature's, the scenario's and its Examples block's.
        self.tags = {item.nodeid: {marker.name for marker in item.iter_markers()} - _PYTEST_MARKERS for item in items}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        context = test_report_context_registry.get(report)  # pytest-bdd's record of the scenario
        if context is None:
            return
        failed_now = report.failed or (report.skipped and report.when != "teardown")
        if report.when != "call" and not failed_now:
            return
        previous = self.records.get(report.nodeid)
        if previous is not None and previous["status"] == "failed":
            return  # the first failure is the one to show
        scenario = context.scenario
        status = "failed" if report.failed else "skipped" if report.skipped else "passed"
        self.records[report.nodeid] = {
            "feature": scenario["feature"]["rel_filename"],
            "name": _variant_name(scenario["name"], report.nodeid),
            "tags": sorted(self.tags.get(report.nodeid, set()) | set(scenario["tags"])),
            "status": status,
            "steps": _step_outcomes(list(scenario["steps"])),
            "failure": _failure_text(report) if status != "passed" else "",
            "node_id": report.nodeid,
        }

    def pytest_sessionfinish(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(list(self.records.values()), indent=2) + "\n", encoding="utf-8")


def _variant_name(name: str, node_id: str) -> str:
    """An outline's row is told apart by its parameters, which pytest puts in the node id."""
    return f"{name} [{node_id.split('[', 1)[1]}" if "[" in node_id else name


def _step_outcomes(steps: list[Any]) -> list[dict[str, str]]:
    """pytest-bdd marks every step after a failing one as failed too; they did not run."""
    outcomes, failed_before = [], False
    for step in steps:
        status = "not run" if failed_before else "failed" if step["failed"] else "passed"
        failed_before = failed_before or bool(step["failed"])
        outcomes.append(asdict(StepOutcome(f"{step['keyword']} {step['name']}", status)))
    return outcomes


def _failure_text(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    text = report.longreprtext or ""
    # The assertion and the lines that led to it are at the end of pytest's report.
    return text if len(text) <= _FAILURE_CHARACTERS else "…" + text[-_FAILURE_CHARACTERS:]
