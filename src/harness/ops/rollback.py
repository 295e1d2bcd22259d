"""`invoke rollback`: put the stage back on the release before the last one, decided from what runs now.

The plan comes from the live state, not from records alone: the database's migration revision
(`alembic_version`) and the commit the service reports (`GET /api/version`; the deploy log only when
the stage cannot answer, and the plan says so), compared with what ran before the release (its
`previous_sha` and `revision_before`). A stage already on both is left alone: "nothing to roll back".

Otherwise the plan is printed first (`--dry-run` stops there), then:
1. restore the pre-release backup, when the live revision is not the one before the release. Every row
   written after that backup (inserted or changed since, or in a table the backup lacks) is counted per
   table first; the rollback stops there, changing nothing, unless `--accept-data-loss` is given (or the
   words are typed at a terminal). The restore takes a safety backup, named in the output and the record;
2. redeploy the previous release's commit, the one the stage ran before the release, which exists where
   DEPLOY_COMMAND fetches from (nothing is reverted or committed in any checkout);
3. disable the integrations asked for (`--disable`); clear only this stage's cache keys;
4. verify with the smoke checks, and record the rollback (`rollbacks.jsonl`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from harness.ops.backup import resolve_backup
from harness.ops.cache import clear_stage_cache
from harness.ops.common import OpsError, Target, append_record, confirm, read_records, utc_now
from harness.ops.deploy import deploy, running_sha, stop_local
from harness.ops.pgtools import alembic_revision, rows_written_after
from harness.ops.restore import restore
from harness.ops.smoke import smoke

LOSS_CONFIRMATION = "lose data"


def release_log(target: Target) -> Path:
    return target.state_dir / "releases.jsonl"


def rollback_log(target: Target) -> Path:
    return target.state_dir / "rollbacks.jsonl"


def last_release(target: Target) -> dict[str, Any]:
    records = [r for r in read_records(release_log(target)) if r["stage"] == target.stage and "backup" in r]
    if not records:
        raise OpsError(f"no release of {target.stage} is recorded in {release_log(target)}: nothing to roll back")
    return records[-1]


@dataclass(frozen=True)
class Plan:
    release: dict[str, Any]
    live_sha: str | None
    sha_source: str  # how the live commit is known: the stage's answer, or the deploy log and why
    live_revision: str | None
    local: bool  # a local restore stops the service first, so it is always started again

    @property
    def previous_sha(self) -> str:
        return str(self.release["previous_sha"])

    @property
    def restore(self) -> bool:
        return self.live_revision != self.release.get("revision_before")

    @property
    def redeploy(self) -> bool:
        return self.live_sha != self.previous_sha or (self.restore and self.local)

    @property
    def nothing_to_do(self) -> bool:
        return not (self.restore or self.redeploy)


def live_plan(target: Target, release: dict[str, Any]) -> Plan:
    sha, source = running_sha(target)
    return Plan(release, sha, source, alembic_revision(target.database_url), local=target.stage == "local")


def plan_steps(target: Target, plan: Plan, disable: list[str]) -> list[str]:
    release = plan.release
    live = f"{(plan.live_sha or 'unknown')[:10]} ({plan.sha_source}), revision {plan.live_revision}"
    return [
        f"the stage runs {live}; before release {release.get('id', '?')} it ran {plan.previous_sha[:10]} "
        f"at revision {release.get('revision_before')}",
        f"restore {Path(release['backup']).name} (revision {plan.live_revision} → {release.get('revision_before')}), "
        "after counting the rows written since it and taking a safety backup"
        if plan.restore
        else f"database: already at revision {plan.live_revision}; no restore",
        f"redeploy {plan.previous_sha[:10]}, the commit that ran before the release"
        if plan.redeploy
        else f"code: already {plan.previous_sha[:10]}; no redeploy",
        f"disable integrations of type {', '.join(disable)}" if disable else "no integration disabled",
        f"clear cache keys under {target.redis_key_prefix or '(no prefix)'}:*"
        if target.redis_url
        else "no Redis: nothing to clear",
        "verify: health and smoke tests",
    ]


def rollback(
    target: Target,
    release: dict[str, Any] | None = None,
    *,
    disable: list[str] | None = None,
    yes: bool = False,
    dry_run: bool = False,
    accept_data_loss: bool = False,
    waive: Sequence[str] = (),
    ask: Callable[[str], str] = input,
) -> dict[str, Any]:
    release = release or last_release(target)
    disable = disable or []
    plan = live_plan(target, release)
    record: dict[str, Any] = {"release": release.get("id"), "stage": target.stage, "started_at": utc_now().isoformat()}
    if plan.nothing_to_do:
        reason = (
            f"nothing to roll back: {target.stage} already runs {plan.previous_sha[:10]} ({plan.sha_source}) at "
            f"revision {plan.live_revision}, as before release {release.get('id', '?')}"
        )
        target.say(f"[green]{reason}[/]")
        if not dry_run:
            append_record(rollback_log(target), {**record, "status": "noop", "reason": reason})
        return {"status": "noop", "reason": reason, "plan": []}
    steps = plan_steps(target, plan, disable)
    target.say(f"Rollback of release {release.get('id', '?')} ({release['sha'][:10]}) on {target.stage}:")
    for number, text in enumerate(steps, 1):
        target.say(f"  {number}. {text}")
    if dry_run:
        target.say("[yellow]Dry run[/]: nothing was changed.")
        return {"status": "dry-run", "plan": steps}
    confirm(target, "Roll back", yes=yes)
    record["plan"] = steps
    try:
        _carry_out(target, plan, record, disable=disable, accept_data_loss=accept_data_loss, waive=waive, ask=ask)
    except OpsError as failure:
        append_record(rollback_log(target), {**record, "status": "failed", "error": str(failure)})
        kept = f" (the state before the restore is in {record['safety_backup']})" if "safety_backup" in record else ""
        raise OpsError(f"rollback failed: {failure}{kept}") from None
    record.update(status="ok", finished_at=utc_now().isoformat(), sha=plan.previous_sha)
    append_record(rollback_log(target), record)
    target.say(f"[bold green]Rolled back[/]: {target.stage} runs {plan.previous_sha[:10]}, verified.")
    if "safety_backup" in record:
        target.say(f"The database as it was before the restore is kept in {record['safety_backup']}")
    return record


def _carry_out(
    target: Target,
    plan: Plan,
    record: dict[str, Any],
    *,
    disable: list[str],
    accept_data_loss: bool,
    waive: Sequence[str],
    ask: Callable[[str], str],
) -> None:
    if plan.restore:
        record["rows_after_backup"] = check_data_loss(target, plan.release["backup"], accept_data_loss, ask)
        if target.stage == "local":
            stop_local(target)  # the released code must not hold the database while it is restored
        restored = restore(target, plan.release["backup"], yes=True, drop_extra_tables=True)
        record["restored"] = plan.release["backup"]
        record["safety_backup"] = str(restored.safety.path) if restored.safety else None
    if plan.redeploy:
        deploy(target, sha=plan.previous_sha, yes=True, reason=f"rollback of {plan.release.get('id')}")
        record["redeployed"] = plan.previous_sha
    if disable:
        record["disabled"] = disable_integrations(target, disable)
    record["cache_keys_removed"] = clear_stage_cache(target)
    verified = smoke(target, waive)
    failed = [f"{check.name}: {check.detail}" for check in verified.checks if check.status == "failed"]
    record["not_verified"] = [check.name for check in verified.checks if check.status == "skipped" and not check.waived]
    if failed:
        raise OpsError("after the rollback the smoke tests still fail: " + "; ".join(failed))


def check_data_loss(
    target: Target, backup_choice: str, accept: bool, ask: Callable[[str], str]
) -> list[dict[str, Any]]:
    """The rows a restore of the backup would drop or undo, per table; stop unless that loss is accepted."""
    backup = resolve_backup(target, backup_choice)
    lost = rows_written_after(target.database_url, backup.database_time, backup.manifest["row_counts"])
    if not lost:
        target.say(f"  no row was written after {backup.path.name}: the restore loses nothing")
        return lost
    listing = "; ".join(describe_loss(entry) for entry in lost)
    total = sum(entry["rows"] for entry in lost)
    target.say(f"  [bold yellow]{total} row(s) were written after {backup.path.name}[/]: {listing}")
    if accept:
        target.say("  --accept-data-loss: restoring anyway; the safety backup keeps them")
        return lost
    if sys.stdin.isatty():
        answer = ask(f"The restore drops them (the safety backup keeps them). Type '{LOSS_CONFIRMATION}' to go on: ")
        if answer.strip() == LOSS_CONFIRMATION:
            return lost
    raise OpsError(
        f"stopped before the restore, nothing was changed: it would drop {total} row(s) written after the backup "
        f"{backup.path.name} ({listing}). Export what must be kept, or rerun with --accept-data-loss"
    )


def describe_loss(entry: dict[str, Any]) -> str:
    parts = [f"{entry['inserted']} new"] if entry["inserted"] else []
    parts += [f"{entry['updated']} changed"] if entry["updated"] else []
    parts += ["a table the backup does not have"] if entry["new_table"] else []
    return f"{entry['table']}: {entry['rows']} ({', '.join(parts)})"


def disable_integrations(target: Target, types: list[str]) -> int:
    with psycopg.connect(target.database_url) as connection:
        changed = connection.execute(
            "UPDATE integrations_credentials SET is_active = false WHERE integration_type = ANY(%s) AND is_active",
            [[kind.upper() for kind in types]],
        ).rowcount
    target.say(f"  disabled {changed} integration(s) of type {', '.join(types)}")
    return changed


def affected_users(database_url: str) -> list[str]:
    """The users a rollback of the stage touches: those with an active integration (they see the redeploy and
    the restore), by name, in order."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT DISTINCT u.name FROM users u JOIN integrations_credentials c ON c.user_id = u.id "
            "WHERE c.is_active ORDER BY u.name"
        ).fetchall()
    return [str(row[0]) for row in rows]


def plan_rollback(
    target: Target, release: dict[str, Any], *, disable: list[str] | None = None, notify: Sequence[str] = ()
) -> dict[str, Any]:
    """The rollback of `release` as data, computed from what the stage runs now (its `/api/version` commit and
    its migration revision), nothing executed and nothing recorded: what `rollback(..., dry_run=True)` prints,
    plus who is notified (`notify`, e.g. the on-call channel, and the users with an active integration)."""
    plan = live_plan(target, release)
    users = affected_users(target.database_url)
    steps = [] if plan.nothing_to_do else plan_steps(target, plan, disable or [])
    if steps:
        people = [*notify, f"{len(users)} user(s) with an active integration"]
        steps.append(f"notify {', '.join(people)}: the stage goes back to {plan.previous_sha[:10]}")
    return {
        "release": release.get("id"),
        "live_sha": plan.live_sha,
        "sha_source": plan.sha_source,
        "live_revision": plan.live_revision,
        "revert_to": plan.previous_sha,
        "revision_before": release.get("revision_before"),
        "redeploy": plan.previous_sha if plan.redeploy else None,
        "restore": release["backup"] if plan.restore else None,
        "clear_cache": f"{target.redis_key_prefix.rstrip(':')}:*" if target.redis_url else None,
        "notify": [*notify, *users] if steps else [],
        "steps": steps,
    }
