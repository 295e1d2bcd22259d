"""The documented shapes of statuses a provider's spec leaves out (contract/provider-shapes/)."""

from __future__ import annotations

import json
from typing import Any

from harness.core.provider_shapes import SHAPES_DIR, documented_shapes, read_shape

PROBLEM_401: dict[str, Any] = {
    "Type": None,
    "Title": "Unauthorized",
    "Status": 401,
    "Detail": "TokenExpired: token expired at 04/09/2023 05:16:59",
    "Instance": "6489df60-8891-470e-9268-a9a43f5da71e",
    "Extensions": {},
}


def test_every_shape_names_its_public_source_and_confidence() -> None:
    shapes = documented_shapes()
    assert set(shapes) >= {("xero", 401), ("xero", 403), ("xero", 404), ("xero", 429)}
    for path in SHAPES_DIR.glob("*.toml"):
        shape = read_shape(path)
        assert path.stem == f"{shape.provider}-{shape.status}"
        assert shape.source.startswith("https://"), path
        assert shape.confidence, path
        assert shape.headers or shape.text is not None or shape.schema is not None, f"{path} judges nothing"


def test_xeros_401_body_as_real_answers_carry_it() -> None:
    shape = documented_shapes()[("xero", 401)]
    assert shape.problems({}, json.dumps(PROBLEM_401)) == []
    renamed = {**PROBLEM_401, "Title": "NotAuthorised"}
    assert shape.problems({}, json.dumps(renamed)) == ["body/Title: 'Unauthorized' was expected"]
    assert shape.problems({}, "Unauthorized") == ["body: 'Unauthorized' is not JSON"]


def test_xeros_429_headers_and_404_text() -> None:
    limited = documented_shapes()[("xero", 429)]
    assert limited.problems({"retry-after": "17", "x-rate-limit-problem": "minute"}, None) == []
    assert limited.problems({"retry-after": "soon", "x-rate-limit-problem": "hour"}, None) == [
        "header retry-after: 'soon' does not match",
        "header x-rate-limit-problem: 'hour' does not match",
    ]
    missing = documented_shapes()[("xero", 404)]
    assert missing.problems({}, "The resource you're looking for cannot be found") == []
    assert missing.problems({}, '{"Status": 404}')[0].startswith("body: '{\"Status\": 404}' is not the documented")
