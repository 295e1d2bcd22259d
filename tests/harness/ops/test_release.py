"""The production preflight: no release without a passing staging gate for the same commit and every
attestation (the four sign-offs and the maintenance-window plan) recorded for it, in the stage's gate
store (a real database on the test server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.checklist import load_checklist
from harness.core.database import create_database, drop_database
from harness.ops import gate_store
from harness.ops.common import OpsError, Target
from harness.ops.release import preflight
from harness.ops.signoff import (
    ATTESTATION_IDS,
    ROLES,
    missing_signoffs,
    read_signoffs,
    record_signoff,
    recorded_attestations,
    signoff_file,
)

pytestmark = pytest.mark.db

SHA = "0123456789abcdef0123456789abcdef01234567"
NO_CI: dict[str, str] = {}  # sign-offs by name, whatever CI this test runs in


@pytest.fixture
def store(database_server_url: str) -> Iterator[str]:
    name = f"gate_{uuid.uuid4().hex[:10]}"
    url = create_database(database_server_url, name)
    yield url
    drop_database(database_server_url, name)


@pytest.fixture
def place(tmp_path: Path, store: str) -> Target:
    """Production, its sign-offs in its gate store."""
    return Target(stage="production", database_url="", state_dir=tmp_path / "ops", gate_store_url=store)


def local(tmp_path: Path) -> Target:
    """The local stage without a gate store: its sign-offs are files under the state folder."""
    return Target(stage="local", database_url="", state_dir=tmp_path / "ops")


def staging_report(reports: Path, sha: str = SHA, verdict: str = "pass", stage: str = "staging") -> None:
    run = reports / f"run-{stage}-{verdict}-{sha[:6]}"
    run.mkdir(parents=True)
    (run / "release-report.json").write_text(json.dumps({"stage": stage, "verdict": verdict, "git_sha": sha}))


def sign_all(place: Target, sha: str = SHA) -> None:
    for role in ROLES:
        record_signoff(place, role, f"{role} lead", sha, NO_CI)


def test_production_needs_the_staging_gate_and_every_signoff(tmp_path: Path, place: Target) -> None:
    reports = tmp_path / "reports"
    with pytest.raises(OpsError, match="no passing staging gate") as refused:
        preflight(place, SHA, reports)
    assert "sign-offs missing" in str(refused.value)

    staging_report(reports)
    record_signoff(place, "qa", "Quinn", SHA, NO_CI)
    with pytest.raises(OpsError, match="security, devops, product, maintenance"):
        preflight(place, SHA, reports)

    for role in ("security", "devops", "product"):
        record_signoff(place, role, f"{role} lead", SHA, NO_CI)
    with pytest.raises(OpsError, match=r"sign-offs missing for 0123456789: maintenance \("):
        preflight(place, SHA, reports)  # the maintenance-window plan (MONTH-04) is required too

    sign_all(place)
    preflight(place, SHA, reports)  # everything recorded: allowed


@pytest.mark.parametrize(
    ("sha", "verdict", "stage"),
    [("f" * 40, "pass", "staging"), (SHA, "fail", "staging"), (SHA, "pass", "local")],
    ids=["another commit", "a failed gate", "the local gate"],
)
def test_only_a_passing_staging_gate_for_this_commit_counts(
    tmp_path: Path, place: Target, sha: str, verdict: str, stage: str
) -> None:
    reports = tmp_path / "reports"
    staging_report(reports, sha, verdict, stage)
    sign_all(place)
    with pytest.raises(OpsError, match="no passing staging gate"):
        preflight(place, SHA, reports)


def test_a_passing_staging_gate_in_the_shared_store_counts_too(tmp_path: Path, place: Target, store: str) -> None:
    sign_all(place)
    report = {"stage": "staging", "verdict": "pass", "git_sha": SHA}
    results = {"commit": SHA, "stage": "staging", "run_id": "r1", "recorded_by": "ci:GITHUB_ACTOR"}
    gate_store.record_gate_result(store, **results, verdict="pass", partial=True, report=report)
    gate_store.record_gate_result(store, **results, verdict="fail", partial=False, report=report)
    with pytest.raises(OpsError, match="no passing staging gate"):  # a partial pass and a full fail prove nothing
        preflight(place, SHA, tmp_path / "reports")
    gate_store.record_gate_result(store, **results, verdict="pass", partial=False, report=report)
    preflight(place, SHA, tmp_path / "reports")  # no report in this runner's folder: the store's counts
    assert gate_store.passing_gate_result(store, commit=SHA, stage="staging") == report
    assert gate_store.passing_gate_result(store, commit=SHA, stage="production") is None


def test_staging_releases_need_no_preflight(tmp_path: Path) -> None:
    staging = Target(stage="staging", database_url="", state_dir=tmp_path / "ops")
    preflight(staging, SHA, tmp_path / "reports")


def test_signoffs_are_per_commit_and_need_a_known_role_and_a_name(place: Target) -> None:
    sign_all(place)
    assert missing_signoffs(place, SHA) == []
    assert missing_signoffs(place, "e" * 40) == list(ROLES)
    with pytest.raises(OpsError, match="unknown role"):
        record_signoff(place, "ceo", "Someone", SHA, NO_CI)
    with pytest.raises(OpsError, match="--name is required"):
        record_signoff(place, "qa", "  ", SHA, NO_CI)


def test_a_deployed_stage_without_a_gate_store_refuses_to_record(tmp_path: Path) -> None:
    nowhere = Target(stage="production", database_url="", state_dir=tmp_path / "ops")
    with pytest.raises(OpsError, match="no gate store for stage 'production'"):
        record_signoff(nowhere, "qa", "Quinn", SHA, NO_CI)
    assert not (tmp_path / "ops").exists()  # not quietly written to this machine's files instead


@pytest.mark.parametrize(
    ("name", "environ", "expected"),
    [
        (None, {"GITHUB_ACTOR": "octocat", "USER": "runner"}, ("octocat", "ci:GITHUB_ACTOR")),
        (None, {"GITLAB_USER_LOGIN": "gl-dev"}, ("gl-dev", "ci:GITLAB_USER_LOGIN")),
        (None, {"CI_COMMIT_AUTHOR": "Ann <ann@example.com>"}, ("Ann <ann@example.com>", "ci:CI_COMMIT_AUTHOR")),
        ("Quinn", {"GITHUB_ACTOR": "release-bot"}, ("Quinn", "cli; ci:GITHUB_ACTOR=release-bot")),
        (None, {"USER": "quinn"}, ("quinn", "cli")),
        ("Quinn", {}, ("Quinn", "cli")),
    ],
    ids=["github", "gitlab", "commit author", "named in CI", "terminal user", "named at a terminal"],
)
def test_who_signs_comes_from_the_ci_identity_and_says_where_it_came_from(
    place: Target, name: str | None, environ: dict[str, str], expected: tuple[str, str]
) -> None:
    record_signoff(place, "security", name, SHA, environ)
    record = read_signoffs(place, SHA)["security"]
    assert (record["name"], record["source"]) == expected
    assert record["stage"] == "production"


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
    place = local(tmp_path)
    assert recorded_attestations(place, SHA) == {}
    record_signoff(place, "qa", "  Quinn Q ", SHA, NO_CI)
    record_signoff(place, "maintenance", "Morgan", SHA, NO_CI)
    records = json.loads(signoff_file(place, SHA).read_text())
    records["maintenance"]["time"] = "2025-03-01T09:30:00+11:00"  # stored with an offset: shown in UTC
    signoff_file(place, SHA).write_text(json.dumps(records))
    attested = recorded_attestations(place, SHA)
    assert set(attested) == {"SIGN-01", "MONTH-04"}
    assert attested["MONTH-04"] == "Morgan at 2025-02-28 22:30:00 UTC, as maintenance (cli)"
    assert attested["SIGN-01"].startswith("Quinn Q at ")
    assert attested["SIGN-01"].endswith(" UTC, as qa (cli)")
    assert recorded_attestations(place, "e" * 40) == {}  # per commit
    signoff_file(place, SHA).write_text("not json")
    assert recorded_attestations(place, SHA) == {}  # an unreadable record attests nothing
    assert missing_signoffs(place, SHA) == list(ROLES)
