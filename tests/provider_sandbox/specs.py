"""Locating the providers' official specs: `<repo>/../shared/provider-specs` or $PROVIDER_SPECS_DIR.

The specs are never copied into this repository; tests that need one skip when it is absent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from harness.core.provider_specs import provider_specs_dir as specs_dir


def load_json_spec(provider: str, name: str) -> dict[str, Any]:
    path = specs_dir() / provider / name
    if not path.is_file():
        pytest.skip(f"{provider} spec {path} not present (set PROVIDER_SPECS_DIR)")
    return dict(json.loads(path.read_text()))


def load_yaml_spec(provider: str, name: str) -> dict[str, Any]:
    path = specs_dir() / provider / name
    if not path.is_file():
        pytest.skip(f"{provider} spec {path} not present (set PROVIDER_SPECS_DIR)")
    with path.open() as handle:
        return dict(yaml.load(handle, Loader=yaml.CSafeLoader))  # the C loader: Xero's spec is ~1 MB


def operation_parameters(spec: dict[str, Any], path: str, method: str = "get") -> set[str]:
    """The names of the parameters an operation lists itself (its path's shared ones, e.g. the tenant
    header, aside), `$ref`s to the shared components resolved."""
    shared = spec["components"]["parameters"]
    listed = spec["paths"][path][method].get("parameters", [])
    return {(shared[item["$ref"].rsplit("/", 1)[1]] if "$ref" in item else item)["name"] for item in listed}
