"""Run folders, the commit a run checks, and the one way the harness runs git (`ops` too)."""

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


class GitError(RuntimeError):
    """A git command failed; the message names it, the folder and git's own complaint."""


def git_state(project_root: Path) -> tuple[str, bool]:
    """The commit checked out and whether the tree has uncommitted changes; ("unknown", False) outside git."""
    try:
        sha = git(project_root, "rev-parse", "HEAD")
        dirty = bool(git(project_root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, GitError):
        return "unknown", False
    return sha, dirty


def git(checkout: Path, *args: str) -> str:
    """git's output, stripped. "git" from PATH, as a developer's shell would find it; fixed arguments, no shell."""
    result = subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {checkout}: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()
