"""Build identity: the commit a service runs comes from BUILD_SHA, else from the git checkout that tracks
the service's package, else it is "unknown" (never the commit of some unrelated repository)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from integration_service.build import PACKAGE_DIR, UNKNOWN, checkout_sha
from integration_service.settings import Settings


def git(directory: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()


def new_repository(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "--quiet")
    git(root, "config", "user.email", "build@example.test")
    git(root, "config", "user.name", "Build")
    return root


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_a_checkout_that_tracks_the_package_reports_its_head(tmp_path: Path) -> None:
    repository = new_repository(tmp_path / "repo")
    package = repository / "src" / "integration_service"
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    git(repository, "add", ".")
    git(repository, "commit", "--quiet", "-m", "the service")
    assert checkout_sha(package) == git(repository, "rev-parse", "HEAD")


def test_a_package_inside_a_repository_that_does_not_track_it_is_unknown(tmp_path: Path) -> None:
    repository = new_repository(tmp_path / "project")
    (repository / "README").write_text("someone else's project\n")
    git(repository, "add", ".")
    git(repository, "commit", "--quiet", "-m", "unrelated")
    installed = repository / ".venv" / "site-packages" / "integration_service"  # e.g. an installed wheel
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    assert checkout_sha(installed) == UNKNOWN


def test_a_package_outside_any_repository_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    assert checkout_sha(tmp_path) == UNKNOWN


def test_build_sha_is_a_full_commit_or_unknown() -> None:
    sha = "ABCDEF0123456789ABCDEF0123456789ABCDEF01"
    assert settings(build_sha=sha).build_sha == sha.lower()
    assert settings(build_sha="unknown").build_sha == UNKNOWN
    for wrong in ("abc123", "main", "g" * 40):
        with pytest.raises(ValidationError, match="BUILD_SHA must be a full 40-character git commit sha"):
            settings(build_sha=wrong)
