"""`invoke backup`: pg_dump -Fc with a manifest, verified before anyone relies on it.

Each backup is `backups/<stage>-<UTC time>.dump` with `<same>.manifest.json` beside it: size, sha256,
row counts, alembic revision, git sha, stage, time (and the database server's time, against which a
rollback finds rows written after the backup). The harness's own `release_gate` schema is left out.
`latest` means the newest manifest of the stage and must be unambiguous; a file without a manifest is
never picked.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.core.database import create_database, database_name, drop_database
from harness.ops.common import OpsError, Target, git_sha, mask, step, timestamp, utc_now
from harness.ops.pgtools import (
    GATE_SCHEMA,
    PgTools,
    alembic_revision,
    database_now,
    find_tools,
    libpq_args,
    row_counts,
)

MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: dict[str, Any]

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.manifest["created_at"])

    @property
    def database_time(self) -> datetime:
        """The database server's time when the dump began (older manifests: the harness's clock)."""
        return datetime.fromisoformat(self.manifest.get("database_time") or self.manifest["created_at"])


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as archive:
        for block in iter(lambda: archive.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def create_backup(target: Target, *, verify: bool = False, keep: int | None = None, reason: str = "manual") -> Backup:
    tools = find_tools(target.database_url)
    moment = utc_now()
    target.backups_dir.mkdir(parents=True, exist_ok=True)
    path = target.backups_dir / f"{target.stage}-{timestamp(moment)}.dump"
    target.say(f"Backing up {mask(target.database_url)} to {path} (pg_dump {tools.major}, custom format)")
    # The server's clock before the dump: a row stamped later was (or may have been) written after it.
    database_time = database_now(target.database_url)
    with step(target, "pg_dump"):
        dumped = subprocess.run(
            [
                tools.pg_dump,
                "--format=custom",
                "--no-owner",
                f"--exclude-schema={GATE_SCHEMA}",  # sign-offs and gate results outlive any restore
                "--file",
                str(path),
                *libpq_args(target.database_url),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if dumped.returncode != 0:
        path.unlink(missing_ok=True)
        raise OpsError(f"pg_dump failed: {dumped.stderr.strip()[-1000:]}")
    manifest: dict[str, Any] = {
        "file": path.name,
        "stage": target.stage,
        "created_at": moment.isoformat(),
        "database_time": database_time.isoformat(),
        "reason": reason,
        "size": path.stat().st_size,
        "sha256": sha256(path),
        "row_counts": row_counts(target.database_url),
        "alembic_revision": alembic_revision(target.database_url),
        "git_sha": git_sha(target.checkout),
        "postgres_major": tools.major,
        "database": mask(target.database_url),
    }
    manifest_path(path).write_text(json.dumps(manifest, indent=2) + "\n")
    backup = Backup(path, manifest)
    check_archive(tools, backup)
    if verify:
        verify_by_restoring(target, tools, backup)
    if keep is not None:
        prune(target, keep)
    total = sum(manifest["row_counts"].values())
    target.say(
        f"[green]Backup written[/]: {path.name} ({manifest['size']} bytes, {total} rows, "
        f"sha256 {manifest['sha256'][:12]}…)"
    )
    return backup


def check_archive(tools: PgTools, backup: Backup) -> None:
    """The file is the one the manifest describes (size, sha256) and pg_restore can read its table of contents."""
    if not backup.path.exists():
        raise OpsError(f"backup {backup.path} does not exist")
    size = backup.path.stat().st_size
    if size != backup.manifest["size"]:
        raise OpsError(
            f"backup {backup.path.name} is {size} bytes, its manifest says {backup.manifest['size']}: "
            "truncated or replaced"
        )
    if sha256(backup.path) != backup.manifest["sha256"]:
        raise OpsError(f"backup {backup.path.name} does not match its manifest's sha256: the file is corrupted")
    listed = subprocess.run([tools.pg_restore, "--list", str(backup.path)], capture_output=True, text=True, check=False)
    if listed.returncode != 0 or "TABLE DATA" not in listed.stdout:
        raise OpsError(
            f"pg_restore cannot read {backup.path.name}: {listed.stderr.strip()[-500:] or 'no table data listed'}"
        )


def verify_by_restoring(target: Target, tools: PgTools, backup: Backup) -> None:
    """Restore into a scratch database on the same server and compare its row counts with the manifest."""
    scratch = f"{database_name(target.database_url)}_verify_{uuid.uuid4().hex[:8]}"
    scratch_url = create_database(target.database_url, scratch)
    try:
        with step(target, f"restore into scratch database {scratch}"):
            restored = subprocess.run(
                [
                    tools.pg_restore,
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    *libpq_args(scratch_url),
                    str(backup.path),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        if restored.returncode != 0:
            raise OpsError(f"the backup does not restore: {restored.stderr.strip()[-1000:]}")
        differences = compare_counts(backup.manifest["row_counts"], row_counts(scratch_url))
        if differences:
            raise OpsError("the restored scratch copy differs from the manifest: " + "; ".join(differences))
    finally:
        drop_database(target.database_url, scratch)


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    return [
        f"{table}: expected {expected.get(table)}, found {actual.get(table)}"
        for table in sorted(set(expected) | set(actual))
        if expected.get(table) != actual.get(table)
    ]


def list_backups(target: Target) -> list[Backup]:
    """This stage's backups that have a readable manifest, oldest first."""
    found: list[Backup] = []
    for manifest in sorted(target.backups_dir.glob(f"*{MANIFEST_SUFFIX}")):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("stage") == target.stage:
            found.append(Backup(manifest.with_name(data["file"]), data))
    return sorted(found, key=lambda backup: backup.created_at)


def resolve_backup(target: Target, choice: str) -> Backup:
    """`latest` (the newest manifest of the stage, unambiguous) or one file that has a manifest."""
    if choice == "latest":
        backups = list_backups(target)
        if not backups:
            raise OpsError(f"no backups of stage {target.stage!r} with a manifest in {target.backups_dir}")
        newest = [backup for backup in backups if backup.created_at == backups[-1].created_at]
        if len(newest) > 1:
            names = ", ".join(backup.path.name for backup in newest)
            raise OpsError(f"'latest' is ambiguous ({names} share a time): pass --backup FILE")
        return newest[0]
    path = Path(choice)
    if not path.exists() and (target.backups_dir / choice).exists():
        path = target.backups_dir / choice
    if any(char in choice for char in "*?["):
        raise OpsError(f"{choice!r} is a pattern: name one backup file, or 'latest'")
    if not manifest_path(path).exists():
        raise OpsError(f"{path} has no manifest ({manifest_path(path).name}): refusing a backup that cannot be checked")
    manifest = json.loads(manifest_path(path).read_text())
    if manifest.get("stage") != target.stage:
        raise OpsError(f"{path.name} is a backup of stage {manifest.get('stage')!r}, not {target.stage!r}")
    return Backup(path, manifest)


def prune(target: Target, keep: int) -> list[Path]:
    """Retention: keep the newest `keep` backups of the stage, delete the others (dump and manifest)."""
    if keep < 1:
        raise OpsError("--keep must be at least 1: the newest backup is never deleted")
    removed: list[Path] = []
    for backup in list_backups(target)[:-keep]:
        backup.path.unlink(missing_ok=True)
        backup.manifest_path.unlink(missing_ok=True)
        removed.append(backup.path)
        target.say(f"  retention: removed {backup.path.name}")
    return removed
