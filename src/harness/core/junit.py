"""The one JUnit XML reader: pytest's and Schemathesis's reports summed into counts."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class JunitCounts:
    tests: int
    failures: int
    errors: int
    skipped: int
    # The test tiers the run selected (pytest's `tier` suite property, written by tests/conftest.py).
    tiers: tuple[str, ...] = ()

    def summary(self) -> str:
        passed = self.tests - self.failures - self.errors - self.skipped
        return (
            f"{self.tests} tests: {passed} passed, {self.failures} failed, {self.errors} errors, {self.skipped} skipped"
        )


def read_junit(path: Path) -> JunitCounts:
    """The totals over every suite of a JUnit XML file; a missing file is one error, never a pass."""
    if not path.exists():
        return JunitCounts(tests=0, failures=0, errors=1, skipped=0)
    # The file was written by our own run (pytest, Schemathesis) a moment ago, not received from outside.
    root = ElementTree.parse(path).getroot()  # noqa: S314
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    tiers = tuple(prop.get("value", "") for prop in root.iter("property") if prop.get("name") == "tier")
    return JunitCounts(**totals, tiers=tiers)


def combine_junit(sources: list[Path], target: Path) -> None:
    """One JUnit file holding every suite of `sources` (one pytest run per tier): the run's evidence, read as one."""
    combined = ElementTree.Element("testsuites")
    for source in sources:
        # Written by our own pytest runs just before (CI), on this checkout, not received from outside.
        root = ElementTree.parse(source).getroot()  # noqa: S314
        combined.extend([root] if root.tag == "testsuite" else list(root.iter("testsuite")))
    ElementTree.ElementTree(combined).write(target, encoding="utf-8", xml_declaration=True)


def judged_tiers(counts: list[tuple[Path, JunitCounts]]) -> str:
    """Which test tiers a set of runs covered, e.g. `tiers: fast (889 tests), e2e (109 tests)`."""
    named = [f"{', '.join(c.tiers) or f'unnamed tier ({path.name})'} ({c.tests} tests)" for path, c in counts]
    return "tiers: " + ", ".join(named)
