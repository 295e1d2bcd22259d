"""`invoke signoff`: the checklist's four sign-offs, recorded per git sha (`.stack/ops/signoffs/<sha>.json`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.ops.common import OpsError, Target, git_sha, utc_now

ROLES = ("qa", "security", "devops", "product")


def signoff_file(target: Target, sha: str) -> Path:
    return target.state_dir / "signoffs" / f"{sha}.json"


def record_signoff(target: Target, role: str, name: str, sha: str | None = None) -> dict[str, Any]:
    if role not in ROLES:
        raise OpsError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise OpsError("--name is required: a sign-off is a person's attestation")
    sha = sha or git_sha(target.checkout)
    path = signoff_file(target, sha)
    records = json.loads(path.read_text()) if path.exists() else {}
    records[role] = {"name": name.strip(), "time": utc_now().isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2) + "\n")
    target.say(f"Recorded {role} sign-off by {name.strip()} for {sha[:10]}")
    return records


def missing_signoffs(target: Target, sha: str) -> list[str]:
    path = signoff_file(target, sha)
    records = json.loads(path.read_text()) if path.exists() else {}
    return [role for role in ROLES if role not in records]
