"""The documented shape of answers a provider's spec leaves out (Xero's spec has no 401, 403, 404 or 429).

Each shape is a small TOML file in `contract/provider-shapes/`, named `<provider>-<status>.toml`, naming the
public documentation page it is taken from (`source`) and how sure that reading is (`confidence`):

    provider = "xero"
    status = 429
    source = "https://developer.xero.com/documentation/guides/oauth2/limits/"
    confidence = "high: ..."
    [headers]               # each required header, with the pattern its whole value must match
    retry-after = '\\d+'
    [body]                  # optional: `text` (the exact body) or `schema` (OAS 3.1 / JSON Schema)
    text = "..."

An answer with such a status is judged against it (the fidelity gate counts it as judged, "by the documented
shape"); a status with no shape stays counted, not judged. The body's schema is checked with
openapi-schema-validator, which openapi-core uses for the specs.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS31Validator

from harness.core.paths import PROJECT_ROOT

SHAPES_DIR = PROJECT_ROOT / "contract" / "provider-shapes"


@dataclass(frozen=True)
class Shape:
    provider: str
    status: int
    file: str  # relative to the project, shown in the report
    source: str
    confidence: str
    headers: dict[str, str]  # lower-case name -> the pattern its value must match in full
    text: str | None = None
    schema: dict[str, Any] | None = None

    def problems(self, headers: dict[str, str], body: str | None) -> list[str]:
        """What of this answer differs from the documented shape (empty: it is valid)."""
        found = [
            f"header {name}: {'missing' if name not in headers else repr(headers[name]) + ' does not match'}"
            for name, pattern in self.headers.items()
            if name not in headers or not re.fullmatch(pattern, headers[name])
        ]
        if self.text is not None and (body or "").strip() != self.text:
            found.append(f"body: {(body or '')[:60]!r} is not the documented {self.text!r}")
        if self.schema is not None:
            found += self._schema_problems(body)
        return found

    def _schema_problems(self, body: str | None) -> list[str]:
        try:
            document = json.loads(body or "")
        except ValueError:
            return [f"body: {(body or '')[:60]!r} is not JSON"]
        errors = sorted(OAS31Validator(self.schema).iter_errors(document), key=lambda error: list(error.path))
        return [f"body/{'/'.join(map(str, error.path))}: {error.message}"[:200] for error in errors[:3]]


def read_shape(path: Path) -> Shape:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    body = document.get("body", {})
    return Shape(
        provider=document["provider"],
        status=int(document["status"]),
        file=str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path),
        source=document["source"],
        confidence=document["confidence"],
        headers={name.lower(): pattern for name, pattern in document.get("headers", {}).items()},
        text=body.get("text"),
        schema=body.get("schema"),
    )


@cache
def documented_shapes(folder: Path = SHAPES_DIR) -> dict[tuple[str, int], Shape]:
    shapes = [read_shape(path) for path in sorted(folder.glob("*.toml"))]
    return {(shape.provider, shape.status): shape for shape in shapes}
