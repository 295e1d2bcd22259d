"""Which build of the service is running: its package version and the git commit it was deployed from.

The commit comes from the `BUILD_SHA` setting (a deployment that ships without `.git` sets it); when
unset, from the git checkout the service's package was imported from, if the package is tracked there
(a virtualenv inside some other repository must not report that repository's commit); else "unknown".
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "integration-release-harness"
UNKNOWN = "unknown"
GIT_SHA = re.compile(r"[0-9a-f]{40}")
PACKAGE_DIR = Path(__file__).resolve().parent


def service_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git subcommands
            ["git", *args],  # noqa: S607 - git from PATH
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):  # no git, or no such directory
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache
def checkout_sha(directory: Path = PACKAGE_DIR) -> str:
    """HEAD of the git checkout that tracks the package in `directory`; "unknown" otherwise."""
    if _git(directory, "ls-files", "--error-unmatch", "__init__.py") is None:
        return UNKNOWN
    sha = _git(directory, "rev-parse", "HEAD")
    return sha if sha is not None and GIT_SHA.fullmatch(sha) else UNKNOWN
