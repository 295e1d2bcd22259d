"""The Gherkin features under `features/`: which scenarios exist and which tags they carry.

Tags say what a scenario proves and where it may run: checklist ids (`@XERO-04`), stages (`@local`,
`@staging`, `@production`), providers (`@xero` …) and what the scenario needs of the stage
(`@sandbox`: the provider sandbox's control API — skipped, never passed, on a stage without one).
Every tag must be one of those, so that a typo cannot quietly leave an item unproved, and every
checklist id must be carried by some scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

from harness.core.checklist import ChecklistItem
from harness.core.paths import PROJECT_ROOT
from harness.core.stages import STAGES

FEATURES_DIR = PROJECT_ROOT / "features"
PROVIDER_TAGS = ("xero", "myob", "quickbooks", "stripe", "paypal", "billionmail", "mautic")
STAGE_TAGS: tuple[str, ...] = STAGES
SANDBOX_TAG = "sandbox"  # needs the provider sandbox's control API (fault injection, token expiry, seeding)


@dataclass(frozen=True)
class ScenarioTags:
    """One scenario (an outline's Examples block counts as its own, with its own tags added)."""

    feature_file: str
    name: str
    line: int
    tags: frozenset[str]


def known_tags(items: list[ChecklistItem]) -> frozenset[str]:
    return frozenset([item.id for item in items] + list(STAGE_TAGS) + list(PROVIDER_TAGS) + [SANDBOX_TAG])


def feature_files(features_dir: Path = FEATURES_DIR) -> list[Path]:
    return sorted(features_dir.rglob("*.feature"))  # one folder per area: features/<area>/*.feature


def read_scenarios(features_dir: Path = FEATURES_DIR) -> list[ScenarioTags]:
    found: list[ScenarioTags] = []
    for path in feature_files(features_dir):
        # gherkin's TypedDicts are read as plain dicts here: only names, tags and lines are used.
        document: dict[str, Any] = dict(Parser().parse(TokenScanner(path.read_text(encoding="utf-8"))))
        feature: dict[str, Any] = document.get("feature") or {}
        feature_tags = _names(feature.get("tags", []))
        for child in feature.get("children", []):
            rule = child.get("rule")
            children = rule["children"] if rule else [child]
            rule_tags = _names(rule.get("tags", [])) if rule else frozenset()
            for inner in children:
                scenario = inner.get("scenario")
                if scenario is None:
                    continue
                found += _scenario_variants(path.name, scenario, feature_tags | rule_tags)
    return found


def _scenario_variants(file_name: str, scenario: dict[str, Any], inherited: frozenset[str]) -> list[ScenarioTags]:
    own = inherited | _names(scenario.get("tags", []))
    line = scenario["location"]["line"]
    examples = scenario.get("examples", [])
    if not examples:
        return [ScenarioTags(file_name, scenario["name"], line, own)]
    return [
        ScenarioTags(file_name, scenario["name"], block["location"]["line"], own | _names(block.get("tags", [])))
        for block in examples
    ]


def _names(tags: list[dict[str, Any]]) -> frozenset[str]:
    return frozenset(tag["name"].lstrip("@") for tag in tags)


def unknown_tags(scenarios: list[ScenarioTags], known: frozenset[str]) -> list[str]:
    """`file:line tag` for every tag that is neither a checklist id, a stage nor a provider."""
    return [
        f"{scenario.feature_file}:{scenario.line} @{tag}"
        for scenario in scenarios
        for tag in sorted(scenario.tags - known)
    ]


def untagged_ids(scenarios: list[ScenarioTags], items: list[ChecklistItem]) -> list[str]:
    """Checklist ids no scenario carries."""
    carried = set().union(*(scenario.tags for scenario in scenarios)) if scenarios else set()
    return [item.id for item in items if item.id not in carried]


def scenarios_without_stage(scenarios: list[ScenarioTags]) -> list[str]:
    """A scenario with no stage tag would run nowhere: that is a mistake, not a choice."""
    return [
        f"{scenario.feature_file}:{scenario.line} {scenario.name}"
        for scenario in scenarios
        if not scenario.tags & set(STAGE_TAGS)
    ]


def ids_of_section(items: list[ChecklistItem], section: str) -> frozenset[str]:
    """The ids of a checklist section, matched case-insensitively (`--only "Xero Integration"`, `--only xero`)."""
    wanted = section.strip().casefold()
    exact = {item.id for item in items if item.section.casefold() == wanted}
    if exact:
        return frozenset(exact)
    return frozenset(item.id for item in items if wanted and wanted in item.section.casefold())
