"""Run folders and the commit a run checks: shared by the gate, `invoke load` and `invoke fuzz`."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path


def new_run_dir(reports_dir: Path, started: datetime, git_sha: str) -> Path:
    """`<UTC time>-<short sha>`: sorts by time, names the commit, unique even within a second."""
    base = f"{started:%Y%m%dT%H%M%SZ}-{git_sha[:8]}"
    reports_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        candidate = reports_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"could not create a new run folder under {reports_dir}")


def git_state(project_root: Path) -> tuple[str, bool]:
    """The commit checked out and whether the tree has uncommitted changes; ("unknown", False) outside git."""
    try:
        sha = _git(project_root, "rev-parse", "HEAD").strip()
        dirty = bool(_git(project_root, "status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return sha, dirty


def _git(project_root: Path, *args: str) -> str:
    # "git" from PATH, as a developer's shell would find it; fixed arguments, no shell.
    command = ["git", *args]
    completed = subprocess.run(command, cwd=project_root, capture_output=True, text=True, check=True)
    return completed.stdout
