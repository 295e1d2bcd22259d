"""Where the project's files live, resolved once so that tasks work from any working directory."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
REPORTS_DIR = PROJECT_ROOT / "reports"
STACK_DIR = PROJECT_ROOT / ".stack"
