"""The features and the catalogue agree: every checklist id is carried by a scenario, every tag means
something, every scenario runs somewhere. Also the tag reader on small hand-written features."""

from __future__ import annotations

from pathlib import Path

from harness.core.checklist import ChecklistItem, load_checklist
from harness.core.features import (
    feature_files,
    ids_of_section,
    known_tags,
    read_scenarios,
    scenarios_without_stage,
    unknown_tags,
    untagged_ids,
)

ITEMS = [
    ChecklistItem(id="STRIPE-04a", section="Stripe Integration", kind="check", text="charge.succeeded"),
    ChecklistItem(id="STRIPE-04b", section="Stripe Integration", kind="check", text="charge.failed"),
    ChecklistItem(id="CQ-01", section="Code Quality", kind="check", text="All tests pass"),
]

OUTLINE = """\
@stripe
Feature: Webhooks
  @local
  Scenario Outline: An event is applied
    Given an event <event>

    @STRIPE-04a
    Examples: succeeded
      | event            |
      | charge.succeeded |

    @STRIPE-04b @nonsense
    Examples: failed
      | event         |
      | charge.failed |

  Scenario: Runs nowhere
    Given nothing
"""


def test_every_checklist_id_is_carried_by_a_scenario() -> None:
    missing = untagged_ids(read_scenarios(), load_checklist())
    assert not missing, f"no scenario under features/ carries: {', '.join(missing)}"


def test_every_tag_is_a_checklist_id_a_stage_or_a_provider() -> None:
    assert not unknown_tags(read_scenarios(), known_tags(load_checklist()))


def test_every_scenario_is_tagged_with_a_stage_it_runs_in() -> None:
    assert not scenarios_without_stage(read_scenarios())


def test_there_is_a_feature_per_checklist_section() -> None:
    # One feature per section: its file name is the section's name in snake case.
    expected = {
        item.section.lower().replace(" & ", "_").replace(" ", "_").replace("-", "_") for item in load_checklist()
    }
    assert expected <= {path.stem for path in feature_files()}


def test_examples_blocks_add_their_own_tags(tmp_path: Path) -> None:
    (tmp_path / "webhooks.feature").write_text(OUTLINE)
    scenarios = read_scenarios(tmp_path)
    assert [sorted(scenario.tags) for scenario in scenarios] == [
        ["STRIPE-04a", "local", "stripe"],
        ["STRIPE-04b", "local", "nonsense", "stripe"],
        ["stripe"],
    ]
    assert untagged_ids(scenarios, ITEMS) == ["CQ-01"]
    assert unknown_tags(scenarios, known_tags(ITEMS)) == ["webhooks.feature:13 @nonsense"]
    assert scenarios_without_stage(scenarios) == ["webhooks.feature:17 Runs nowhere"]


def test_a_section_is_chosen_by_its_name_or_a_part_of_it() -> None:
    assert ids_of_section(ITEMS, "Stripe Integration") == {"STRIPE-04a", "STRIPE-04b"}
    assert ids_of_section(ITEMS, "stripe") == {"STRIPE-04a", "STRIPE-04b"}
    assert ids_of_section(ITEMS, "quality") == {"CQ-01"}
    assert ids_of_section(ITEMS, "paypal") == frozenset()
