"""`invoke signoff`: the checklist's attestations, recorded per git sha where every runner of the stage sees
them: the stage's gate store (harness.ops.gate_store; staging and production always, local when
GATE_STORE_URL is set), else the local stage's files (`.stack/ops/signoffs/<sha>.json`).

The four sign-offs (SIGN-01..04: qa, security, devops, product) and MONTH-04 "Plan maintenance windows
if needed" (role `maintenance`: someone attests that the windows were planned, or that none is needed).
A production release needs every role recorded for the sha it releases; the release report shows each
checklist id as attested by "Name at <UTC time>".

Who signs: `--name`, else the CI identity (GITHUB_ACTOR, GITLAB_USER_LOGIN, CI_COMMIT_AUTHOR), else (a
person at a terminal) $USER. The record says where the name came from (`source`): "ci:GITHUB_ACTOR",
"cli", or "cli; ci:GITHUB_ACTOR=<who ran the job>" when a CI job names someone else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.ops import gate_store
from harness.ops.common import OpsError, Target, git_sha, utc_now
from harness.ops.gate_store import ATTESTATION_IDS

__all__ = ["ATTESTATION_IDS", "ROLES", "missing_signoffs", "record_signoff", "recorded_attestations"]

ROLES: tuple[str, ...] = tuple(ATTESTATION_IDS.values())
ROLE_TEXT = {
    "qa": "QA Lead",
    "security": "Security Lead",
    "devops": "DevOps Lead",
    "product": "Product Owner",
    "maintenance": "maintenance windows planned (or none needed)",
}
# Who runs a CI job, by the variables the CI systems set (GitHub Actions, GitLab CI, Buildkite/others).
CI_IDENTITIES = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "CI_COMMIT_AUTHOR")


def signoff_file(target: Target, sha: str) -> Path:
    return target.state_dir / "signoffs" / f"{sha}.json"


def signer(name: str | None, environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(name, source) of a sign-off: the name given, else the CI identity, else the terminal's user."""
    ci = next(((variable, environ[variable]) for variable in CI_IDENTITIES if environ.get(variable, "").strip()), None)
    if name is not None and name.strip():
        return name.strip(), "cli" if ci is None else f"cli; ci:{ci[0]}={ci[1].strip()}"
    if ci is not None:
        return ci[1].strip(), f"ci:{ci[0]}"
    if name is None and environ.get("USER", "").strip():
        return environ["USER"].strip(), "cli"
    raise OpsError("--name is required: a sign-off is a person's attestation (no CI identity or $USER to default to)")


def read_signoffs(target: Target, sha: str) -> dict[str, Any]:
    """Role -> {"name", "time", ...} recorded for this sha; {} when none (or the file is unreadable)."""
    if target.gate_store_url is not None:
        records = gate_store.signoff_records(target.gate_store_url, sha)
        return {role: {**record, "time": record["recorded_at"].isoformat()} for role, record in records.items()}
    path = signoff_file(target, sha)
    try:
        records = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return records if isinstance(records, dict) else {}


def record_signoff(
    target: Target, role: str, name: str | None, sha: str | None = None, environ: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    if role not in ROLES:
        raise OpsError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    who, source = signer(name, environ)
    sha = sha or git_sha(target.checkout)
    where = _record(target, sha, role, who, source)
    target.say(f"Recorded {role} sign-off ({ROLE_TEXT[role]}) by {who} ({source}) for {sha[:10]} in {where}")
    return read_signoffs(target, sha)


def _record(target: Target, sha: str, role: str, who: str, source: str) -> str:
    if target.gate_store_url is not None:
        url = target.gate_store_url
        gate_store.record_signoff(url, commit=sha, stage=target.stage, role=role, name=who, source=source)
        return "the gate store"
    if target.protected:
        raise OpsError(
            f"no gate store for stage {target.stage!r}: set GATE_STORE_URL or DATABASE_URL, so that every "
            "runner of the stage sees the sign-off"
        )
    path = signoff_file(target, sha)
    records = read_signoffs(target, sha)
    records[role] = {"name": who, "time": utc_now().isoformat(), "source": source}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2) + "\n")
    return str(path)


def missing_signoffs(target: Target, sha: str) -> list[str]:
    records = read_signoffs(target, sha)
    return [role for role in ROLES if role not in records]


def recorded_attestations(target: Target, sha: str) -> dict[str, str]:
    """Checklist id -> "Name at <UTC time>, as <role> (<source>)" for every attestation recorded for this sha
    (absent: not recorded)."""
    if target.gate_store_url is not None:
        return gate_store.signoffs(target.gate_store_url, sha)
    records = read_signoffs(target, sha)
    attested: dict[str, str] = {}
    for checklist_id, role in ATTESTATION_IDS.items():
        record = records.get(role)
        if not isinstance(record, dict) or not record.get("name") or not record.get("time"):
            continue
        moment = _utc(str(record["time"]))
        source = str(record.get("source") or "cli")
        attested[checklist_id] = gate_store.describe_signoff(
            {"name": record["name"], "recorded_at": moment, "role": role, "source": source}
        )
    return attested


def _utc(moment: str) -> datetime | str:
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
