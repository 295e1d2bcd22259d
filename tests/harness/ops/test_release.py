"""The production preflight: no release without a passing staging gate for the same commit and every
attestation (the four sign-offs and the maintenance-window plan) recorded for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checklist import load_checklist
from harness.ops.common import OpsError, Target
from harness.ops.release import preflight
from harness.ops.signoff import (
    ATTESTATION_IDS,
    ROLES,
    missing_signoffs,
    record_signoff,
    recorded_attestations,
    signoff_file,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def target(tmp_path: Path, stage: str = "production") -> Target:
    return Target(stage=stage, database_url="postgresql://unused/none", state_dir=tmp_path / "ops")  # type: ignore[arg-type]


def staging_report(reports: Path, sha: str = SHA, verdict: str = "pass", stage: str = "staging") -> None:
    run = reports / f"run-{stage}-{verdict}-{sha[:6]}"
    run.mkdir(parents=True)
    (run / "release-report.json").write_text(json.dumps({"stage": stage, "verdict": verdict, "git_sha": sha}))


def sign_all(place: Target, sha: str = SHA) -> None:
    for role in ROLES:
        record_signoff(place, role, f"{role} lead", sha)


def test_production_needs_the_staging_gate_and_every_signoff(tmp_path: Path) -> None:
    place, reports = target(tmp_path), tmp_path / "reports"
    with pytest.raises(OpsError, match="no passing staging gate") as refused:
        preflight(place, SHA, reports)
    assert "sign-offs missing" in str(refused.value)

    staging_report(reports)
    record_signoff(place, "qa", "Quinn", SHA)
    with pytest.raises(OpsError, match="security, devops, product, maintenance"):
        preflight(place, SHA, reports)

    for role in ("security", "devops", "product"):
        record_signoff(place, role, f"{role} lead", SHA)
    with pytest.raises(OpsError, match=r"sign-offs missing for 0123456789: maintenance \("):
        preflight(place, SHA, reports)  # the maintenance-window plan (MONTH-04) is required too

    sign_all(place)
    preflight(place, SHA, reports)  # everything recorded: allowed


@pytest.mark.parametrize(
    ("sha", "verdict", "stage"),
    [("f" * 40, "pass", "staging"), (SHA, "fail", "staging"), (SHA, "pass", "local")],
    ids=["another commit", "a failed gate", "the local gate"],
)
def test_only_a_passing_staging_gate_for_this_commit_counts(tmp_path: Path, sha: str, verdict: str, stage: str) -> None:
    place, reports = target(tmp_path), tmp_path / "reports"
    staging_report(reports, sha, verdict, stage)
    sign_all(place)
    with pytest.raises(OpsError, match="no passing staging gate"):
        preflight(place, SHA, reports)


def test_staging_releases_need_no_preflight(tmp_path: Path) -> None:
    preflight(target(tmp_path, "staging"), SHA, tmp_path / "reports")


def test_signoffs_are_per_commit_and_need_a_known_role_and_a_name(tmp_path: Path) -> None:
    place = target(tmp_path)
    sign_all(place)
    assert missing_signoffs(place, SHA) == []
    assert missing_signoffs(place, "e" * 40) == list(ROLES)
    with pytest.raises(OpsError, match="unknown role"):
        record_signoff(place, "ceo", "Someone", SHA)
    with pytest.raises(OpsError, match="--name is required"):
        record_signoff(place, "qa", "  ", SHA)


def test_each_attestation_role_is_a_checklist_attest_item() -> None:
    items = {item.id: item for item in load_checklist()}
    assert ATTESTATION_IDS == {
        "SIGN-01": "qa",
        "SIGN-02": "security",
        "SIGN-03": "devops",
        "SIGN-04": "product",
        "MONTH-04": "maintenance",
    }
    for checklist_id in ATTESTATION_IDS:
        assert items[checklist_id].kind == "attest", checklist_id
    assert set(ROLES) == set(ATTESTATION_IDS.values())


def test_recorded_attestations_name_who_and_when_per_checklist_id(tmp_path: Path) -> None:
    place = target(tmp_path)
    assert recorded_attestations(place, SHA) == {}
    record_signoff(place, "qa", "  Quinn Q ", SHA)
    record_signoff(place, "maintenance", "Morgan", SHA)
    records = json.loads(signoff_file(place, SHA).read_text())
    records["maintenance"]["time"] = "2025-03-01T09:30:00+11:00"  # stored with an offset: shown in UTC
    signoff_file(place, SHA).write_text(json.dumps(records))
    attested = recorded_attestations(place, SHA)
    assert set(attested) == {"SIGN-01", "MONTH-04"}
    assert attested["MONTH-04"] == "Morgan at 2025-02-28 22:30:00 UTC"
    assert attested["SIGN-01"].startswith("Quinn Q at ")
    assert attested["SIGN-01"].endswith(" UTC")
    assert recorded_attestations(place, "e" * 40) == {}  # per commit
    signoff_file(place, SHA).write_text("not json")
    assert recorded_attestations(place, SHA) == {}  # an unreadable record attests nothing
    assert missing_signoffs(place, SHA) == list(ROLES)
