"""The deployment & QA checklist catalogue (`features/checklist.yaml`): every item the release report
accounts for, by stable id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from harness.core.paths import PROJECT_ROOT
from harness.core.stages import ALL_STAGES, Stage

CHECKLIST_PATH = PROJECT_ROOT / "features" / "checklist.yaml"

ItemKind = Literal["check", "procedure", "attest"]
_KINDS: tuple[ItemKind, ...] = ("check", "procedure", "attest")
# `code` items are about the commit and carry to every stage for it; `deployment` items are about a
# running stage and must be proved on it (features/checklist.yaml explains both).
ItemScope = Literal["code", "deployment"]
_SCOPES: tuple[ItemScope, ...] = ("code", "deployment")


class ChecklistError(ValueError):
    """The catalogue file is malformed; the message names the entry."""


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    section: str
    kind: ItemKind
    text: str
    scope: ItemScope = "deployment"
    # The stages whose verdict the item is part of (`stages:` in the catalogue; default all). E.g. the
    # production deployment procedure is judged on production (and rehearsed locally), not on staging.
    judged_in: frozenset[Stage] = ALL_STAGES

    def same_item(self, other: ChecklistItem) -> bool:
        """Equal in what the shared source holds (the project's copy adds `scope`)."""
        return (self.id, self.section, self.kind, self.text) == (other.id, other.section, other.kind, other.text)


def load_checklist(path: Path = CHECKLIST_PATH) -> list[ChecklistItem]:
    """The items in catalogue order. Duplicate ids or unknown kinds are errors, not warnings: the
    report must account for each item exactly once."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise ChecklistError(f"{path}: expected a mapping with a list under 'items'")
    items: list[ChecklistItem] = []
    seen: set[str] = set()
    for position, entry in enumerate(document["items"], start=1):
        if not isinstance(entry, dict) or not all(key in entry for key in ("id", "section", "kind", "text")):
            raise ChecklistError(f"{path}: item {position} needs id, section, kind and text")
        item_id, kind = str(entry["id"]), entry["kind"]
        if item_id in seen:
            raise ChecklistError(f"{path}: id {item_id} appears twice")
        if kind not in _KINDS:
            raise ChecklistError(f"{path}: item {item_id} has kind {kind!r}, expected one of {_KINDS}")
        scope = entry.get("scope", "deployment")
        if scope not in _SCOPES:
            raise ChecklistError(f"{path}: item {item_id} has scope {scope!r}, expected one of {_SCOPES}")
        stages = entry.get("stages", sorted(ALL_STAGES))
        if not isinstance(stages, list) or not stages or not set(stages) <= ALL_STAGES:
            raise ChecklistError(
                f"{path}: item {item_id} has stages {stages!r}, expected a list of {sorted(ALL_STAGES)}"
            )
        seen.add(item_id)
        item = ChecklistItem(item_id, str(entry["section"]), kind, str(entry["text"]), scope, frozenset(stages))
        items.append(item)
    return items
