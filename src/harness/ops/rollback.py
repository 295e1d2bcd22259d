"""`invoke rollback`: the checklist's rollback, made safe and proved.

Plan (printed first; `--dry-run` stops there): revert the released commits (`git revert`, so history
is kept) → stop the release's service (local) → restore the pre-release backup if the release changed
the schema's revision (a safety backup of the current state comes first; tables the release created
are dropped) → redeploy → optionally disable the affected integrations → clear only this stage's cache
keys → verify (health and smoke) → a rollback record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from harness.ops.cache import clear_stage_cache
from harness.ops.common import OpsError, Target, append_record, confirm, git, git_sha, read_records, utc_now
from harness.ops.deploy import deploy, stop_local
from harness.ops.restore import restore
from harness.ops.smoke import smoke


def release_log(target: Target) -> Path:
    return target.state_dir / "releases.jsonl"


def last_release(target: Target) -> dict[str, Any]:
    records = [r for r in read_records(release_log(target)) if r["stage"] == target.stage and "backup" in r]
    if not records:
        raise OpsError(f"no release of {target.stage} is recorded in {release_log(target)}: nothing to roll back")
    return records[-1]


def migrated(release: dict[str, Any]) -> bool:
    """Whether the release moved the database's revision (a failed migrate may have: restore then too)."""
    return bool(release.get("revision_after", "unknown") != release.get("revision_before"))


def plan(target: Target, release: dict[str, Any], disable: list[str]) -> list[str]:
    steps = [
        f"revert {release['previous_sha'][:10]}..{release['sha'][:10]} in {target.checkout} (git revert, history kept)",
        f"restore {Path(release['backup']).name} (after a safety backup; revision "
        f"{release.get('revision_after')} → {release.get('revision_before')})"
        if migrated(release)
        else "database: the release did not migrate it; no restore",
        f"redeploy the reverted code to {target.stage}",
        f"disable integrations of type {', '.join(disable)}" if disable else "no integration disabled",
        f"clear cache keys under {target.redis_key_prefix or '(no prefix)'}:*"
        if target.redis_url
        else "no Redis: nothing to clear",
        "verify: health and smoke tests",
    ]
    return steps


def rollback(
    target: Target,
    release: dict[str, Any] | None = None,
    *,
    disable: list[str] | None = None,
    yes: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    release = release or last_release(target)
    disable = disable or []
    steps = plan(target, release, disable)
    target.say(f"Rollback of release {release.get('id', '?')} ({release['sha'][:10]}) on {target.stage}:")
    for number, text in enumerate(steps, 1):
        target.say(f"  {number}. {text}")
    if dry_run:
        target.say("[yellow]Dry run[/]: nothing was changed.")
        return {"status": "dry-run", "plan": steps}
    confirm(target, "Roll back", yes=yes)
    record: dict[str, Any] = {"release": release.get("id"), "stage": target.stage, "started_at": utc_now().isoformat()}
    try:
        record["reverted_to"] = revert(target, release["previous_sha"], release["sha"])
        if target.stage == "local":
            stop_local(target)  # the broken code must not hold the database while it is restored
        if migrated(release):
            restore(target, release["backup"], yes=True, drop_extra_tables=True)
            record["restored"] = release["backup"]
        deploy(target, yes=True, reason=f"rollback of {release.get('id')}")
        if disable:
            record["disabled"] = disable_integrations(target, disable)
        record["cache_keys_removed"] = clear_stage_cache(target)
        verified = smoke(target)
        if not verified.passed:
            raise OpsError("after the rollback the smoke tests still fail: " + "; ".join(verified.failures()))
    except OpsError as failure:
        append_record(target.state_dir / "rollbacks.jsonl", {**record, "status": "failed", "error": str(failure)})
        raise OpsError(f"rollback failed: {failure}") from None
    record.update(status="ok", finished_at=utc_now().isoformat(), sha=git_sha(target.checkout))
    append_record(target.state_dir / "rollbacks.jsonl", record)
    target.say(f"[bold green]Rolled back[/]: code equals {release['previous_sha'][:10]}, verified.")
    return record


def revert(target: Target, previous_sha: str, released_sha: str) -> str:
    """Revert the released commits on top of HEAD; the tree must then equal the previous sha's."""
    if git(target.checkout, "status", "--porcelain", "--untracked-files=no"):
        raise OpsError(f"{target.checkout} has uncommitted changes: commit or set them aside before a rollback")
    if git(target.checkout, "diff", "--name-only", previous_sha, "HEAD"):
        commits = git(target.checkout, "rev-list", f"{previous_sha}..{released_sha}").split()
        if not commits:
            raise OpsError(f"HEAD differs from {previous_sha[:10]} but no released commits are between them")
        git(target.checkout, "revert", "--no-edit", *commits)  # newest first, as rev-list lists them
    if git(target.checkout, "diff", "--name-only", previous_sha, "HEAD"):
        raise OpsError(f"after the revert the code still differs from {previous_sha[:10]}: resolve by hand")
    return git_sha(target.checkout)


def disable_integrations(target: Target, types: list[str]) -> int:
    with psycopg.connect(target.database_url) as connection:
        changed = connection.execute(
            "UPDATE integrations_credentials SET is_active = false WHERE integration_type = ANY(%s) AND is_active",
            [[kind.upper() for kind in types]],
        ).rowcount
    target.say(f"  disabled {changed} integration(s) of type {', '.join(types)}")
    return changed
