"""`invoke signoff`: the checklist's attestations, recorded per git sha (`.stack/ops/signoffs/<sha>.json`).

The four sign-offs (SIGN-01..04: qa, security, devops, product) and MONTH-04 "Plan maintenance windows
if needed" (role `maintenance`: someone attests that the windows were planned, or that none is needed).
A production release needs every role recorded for the sha it releases; the release report shows each
checklist id as attested by "Name at <UTC time>".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.ops.common import OpsError, Target, git_sha, utc_now

# checklist id -> the role that attests it
ATTESTATION_IDS: dict[str, str] = {
    "SIGN-01": "qa",
    "SIGN-02": "security",
    "SIGN-03": "devops",
    "SIGN-04": "product",
    "MONTH-04": "maintenance",
}
ROLES: tuple[str, ...] = tuple(ATTESTATION_IDS.values())
ROLE_TEXT = {
    "qa": "QA Lead",
    "security": "Security Lead",
    "devops": "DevOps Lead",
    "product": "Product Owner",
    "maintenance": "maintenance windows planned (or none needed)",
}


def signoff_file(target: Target, sha: str) -> Path:
    return target.state_dir / "signoffs" / f"{sha}.json"


def read_signoffs(target: Target, sha: str) -> dict[str, Any]:
    """Role -> {"name", "time"} recorded for this sha; {} when none (or the file is unreadable)."""
    path = signoff_file(target, sha)
    try:
        records = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return records if isinstance(records, dict) else {}


def record_signoff(target: Target, role: str, name: str, sha: str | None = None) -> dict[str, Any]:
    if role not in ROLES:
        raise OpsError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise OpsError("--name is required: a sign-off is a person's attestation")
    sha = sha or git_sha(target.checkout)
    path = signoff_file(target, sha)
    records = read_signoffs(target, sha)
    records[role] = {"name": name.strip(), "time": utc_now().isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2) + "\n")
    target.say(f"Recorded {role} sign-off ({ROLE_TEXT[role]}) by {name.strip()} for {sha[:10]}")
    return records


def missing_signoffs(target: Target, sha: str) -> list[str]:
    records = read_signoffs(target, sha)
    return [role for role in ROLES if role not in records]


def recorded_attestations(target: Target, sha: str) -> dict[str, str]:
    """Checklist id -> "Name at <UTC time>" for every attestation recorded for this sha (absent: not recorded)."""
    records = read_signoffs(target, sha)
    attested: dict[str, str] = {}
    for checklist_id, role in ATTESTATION_IDS.items():
        record = records.get(role)
        if not isinstance(record, dict) or not record.get("name") or not record.get("time"):
            continue
        attested[checklist_id] = f"{record['name']} at {_utc_text(str(record['time']))}"
    return attested


def _utc_text(moment: str) -> str:
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
