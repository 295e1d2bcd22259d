"""The project's checklist catalogue and its loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.checklist import CHECKLIST_PATH, ChecklistError, load_checklist


def test_the_project_catalogue_loads_with_unique_ids() -> None:
    items = load_checklist(CHECKLIST_PATH)
    assert len(items) >= 100
    assert len({item.id for item in items}) == len(items)
    assert {"CQ-01", "DB-01", "ENV-01", "SEC-01"} <= {item.id for item in items}


def test_the_project_copy_matches_the_shared_source_when_it_is_beside_us() -> None:
    shared = CHECKLIST_PATH.parents[2] / "shared" / "checklist.yaml"
    if not shared.exists():
        pytest.skip(f"no shared catalogue at {shared} to compare with")
    ours, source = load_checklist(CHECKLIST_PATH), load_checklist(shared)
    assert len(ours) == len(source)
    assert all(mine.same_item(theirs) for mine, theirs in zip(ours, source, strict=True))


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "checklist.yaml"
    path.write_text(body)
    return path


def test_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "items:\n"
        "  - {id: A-01, section: S, kind: check, text: one}\n"
        "  - {id: A-01, section: S, kind: check, text: two}\n",
    )
    with pytest.raises(ChecklistError, match="A-01 appears twice"):
        load_checklist(path)


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "items:\n  - {id: A-01, section: S, kind: wish, text: one}\n")
    with pytest.raises(ChecklistError, match="kind 'wish'"):
        load_checklist(path)


def test_an_item_missing_a_field_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "items:\n  - {id: A-01, kind: check, text: one}\n")
    with pytest.raises(ChecklistError, match="item 1 needs"):
        load_checklist(path)
