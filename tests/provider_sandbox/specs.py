"""Locating the providers' official specs: `<repo>/../shared/provider-specs` or $PROVIDER_SPECS_DIR.

The specs are never copied into this repository; tests that need one skip when it is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


def specs_dir() -> Path:
    configured = os.environ.get("PROVIDER_SPECS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared" / "provider-specs"


def load_json_spec(provider: str, name: str) -> dict[str, Any]:
    path = specs_dir() / provider / name
    if not path.is_file():
        pytest.skip(f"{provider} spec {path} not present (set PROVIDER_SPECS_DIR)")
    return dict(json.loads(path.read_text()))
