"""Steps of the production release's preflight: staging's release gate on the commit, and the sign-offs
(attestations) recorded in production's gate store, without which a production release is refused.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from harness.ops.common import OpsError, git_sha
from harness.ops.deploy import deploy
from harness.ops.release import release
from harness.ops.signoff import (
    ATTESTATION_IDS,
    missing_signoffs,
    read_signoffs,
    record_signoff,
    recorded_attestations,
)
from steps.support.lab import OpsLab

# --- production: preflight and sign-offs --------------------------------------------------------------


@dataclass(frozen=True)
class ProductionRelease:
    """The commit a production release would ship, and where staging's release reports are looked for."""

    sha: str
    reports: Path


@given(
    "a production release of the current commit, with production's last deployment recorded",
    target_fixture="production_release",
)
def a_production_release(ops: OpsLab) -> ProductionRelease:
    # Sign-offs live in production's gate store: here a scratch database, as every runner would share it.
    target = ops.new_target("", stage="production", deploy_command="true", gate_store_url=ops.scratch_database())
    deploy(target, yes=True)  # the version production runs now: a release needs one to roll back to
    return ProductionRelease(sha=git_sha(target.checkout), reports=ops.root / "reports")


def try_release(ops: OpsLab, production_release: ProductionRelease) -> str | None:
    """The refusal of a production release (dry run), or None when it would go ahead."""
    try:
        outcome = release(ops.current(), reports_dir=production_release.reports, dry_run=True)
    except OpsError as refusal:
        return str(refusal)
    assert outcome["status"] == "dry-run", f"a dry-run release did something: {outcome}"
    return None


@then(parsers.parse('the production release is refused, naming "{words}"'), target_fixture="refusal")
def release_refused(ops: OpsLab, words: str, production_release: ProductionRelease) -> str:
    refusal = try_release(ops, production_release)
    assert refusal is not None, f"expected the production release refused ({words}); it would go ahead"
    assert words in refusal, f"expected the refusal to name {words!r}: {refusal}"
    return refusal


@then(parsers.parse('the refusal also names "{words}"'))
def refusal_names(ops: OpsLab, words: str, refusal: str) -> None:
    assert words in refusal, f"expected the refusal to name {words!r}: {refusal}"


@then(
    parsers.parse('the production release is refused, naming the missing "{role}" attestation'),
    target_fixture="refusal",
)
def release_refused_for_role(ops: OpsLab, role: str, production_release: ProductionRelease) -> str:
    missing = missing_signoffs(ops.current(), production_release.sha)
    assert missing == [role], f"expected only the {role!r} sign-off missing, missing: {missing}"
    return release_refused(ops, f"sign-offs missing for {production_release.sha[:10]}: {role} (", production_release)


@then("the production release goes ahead")
def release_goes_ahead(ops: OpsLab, production_release: ProductionRelease) -> None:
    refusal = try_release(ops, production_release)
    assert refusal is None, f"expected the production release to go ahead; it was refused: {refusal}"


@given(parsers.re(r"staging's release gate (?P<verdict>passed|failed) on (?P<which>the current|another) commit"))
@when(parsers.re(r"staging's release gate (?P<verdict>passed|failed) on (?P<which>the current|another) commit"))
def staging_gate_report(ops: OpsLab, verdict: str, which: str, production_release: ProductionRelease) -> None:
    sha = production_release.sha if which == "the current" else uuid.uuid4().hex + uuid.uuid4().hex[:8]
    report = production_release.reports / f"staging-{uuid.uuid4().hex[:8]}" / "release-report.json"
    report.parent.mkdir(parents=True)
    document = {"stage": "staging", "git_sha": sha, "verdict": "pass" if verdict == "passed" else "fail"}
    report.write_text(json.dumps(document))


@given(
    parsers.re(r'every attestation of the checklist is recorded for the current commit(?: except "(?P<skip>[^"]+)")?')
)
@when(
    parsers.re(r'every attestation of the checklist is recorded for the current commit(?: except "(?P<skip>[^"]+)")?')
)
def record_attestations(ops: OpsLab, skip: str | None, production_release: ProductionRelease) -> None:
    if skip is not None:
        assert skip in ATTESTATION_IDS, f"{skip} is not an attested checklist id: {list(ATTESTATION_IDS)}"
    for checklist_id, role in ATTESTATION_IDS.items():
        if checklist_id != skip:
            record_signoff(ops.current(), role, f"Approver of {checklist_id}", production_release.sha)


@when(parsers.re(r'"(?P<name>[^"]+)" records the "(?P<role>[^"]+)" sign-off for (?P<which>the current|another) commit'))
def record_one_signoff(ops: OpsLab, name: str, role: str, which: str, production_release: ProductionRelease) -> None:
    sha = production_release.sha if which == "the current" else "0" * 40
    record_signoff(ops.current(), role, name, sha)


@then(parsers.parse('the "{role}" sign-off by "{name}" is recorded for the current commit'))
def signoff_recorded(ops: OpsLab, role: str, name: str, production_release: ProductionRelease) -> None:
    records = read_signoffs(ops.current(), production_release.sha)  # from the stage's gate store
    record = records.get(role)
    assert isinstance(record, dict), f"no {role!r} sign-off recorded for {production_release.sha[:10]}: {records}"
    assert record.get("name") == name, f"expected the sign-off by {name!r}, recorded {record}"
    assert record.get("time"), f"the sign-off carries no time: {record}"


@then(parsers.parse('the release report shows "{checklist_id}" as attested by "{name}"'))
def attested_in_report(ops: OpsLab, checklist_id: str, name: str, production_release: ProductionRelease) -> None:
    attested = recorded_attestations(ops.current(), production_release.sha)
    shown = attested.get(checklist_id, "")
    assert shown.startswith(f"{name} at "), f"expected {checklist_id} attested by {name!r}, recorded: {attested}"


@then(parsers.parse('recording a "{role}" sign-off by "{name}" is refused, naming "{words}"'))
def signoff_refused(ops: OpsLab, role: str, name: str, words: str, production_release: ProductionRelease) -> None:
    with pytest.raises(OpsError) as refused:
        record_signoff(ops.current(), role, name, production_release.sha)
    assert words in str(refused.value), f"expected the refusal to name {words!r}: {refused.value}"
    assert read_signoffs(ops.current(), production_release.sha) == {}, "a refused sign-off was written"
