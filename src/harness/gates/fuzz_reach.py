"""How far the fuzzer got into each operation: read from the run's VCR cassette.

A case "reaches" its operation when the answer is neither a refusal before the operation's logic
(401 unauthenticated, 404 unknown identifier, 405 a route of another method, 422 invalid input, 429
rate limited, a webhook's 400 `invalid_signature`) nor missing (a transport error): a 2xx, or a domain
answer such as 409, a webhook's 400 for an event it cannot read, or 502 from a provider. An operation
whose cases mostly stop at those refusals is fuzzing the refusal, not the operation, so the gate fails
below a configured share (contract/fuzz_reach.toml), unless the operation is named there as an exception
with its reason.

A 404 in the stateful phase is shown but not counted: that phase chains operations through the schema's
links (create -> read, update, sync, delete), and a step after its chain's DELETE answers 404 by right.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from harness.core.paths import PROJECT_ROOT

REACH_CONFIG_FILE = PROJECT_ROOT / "contract" / "fuzz_reach.toml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@dataclass(frozen=True)
class ReachConfig:
    min_share: float = 0.2
    # Answers given before the operation's logic runs.
    unreached_statuses: frozenset[int] = frozenset({401, 404, 405, 422, 429})
    # A 422 is the request's schema validation only when it lists field errors (`error.details`); one
    # without them is the operation's own refusal or its provider's, so the operation's logic ran.
    field_errors_only_422: bool = True
    # Error codes given before the operation's logic, whatever the status (a webhook's signature check).
    unreached_codes: frozenset[str] = frozenset()
    # "METHOD /path/template" -> why it cannot reach the share; reported, never silent.
    exceptions: dict[str, str] = field(default_factory=dict)


def load_reach_config(path: Path = REACH_CONFIG_FILE) -> ReachConfig:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return ReachConfig(
        min_share=float(data.get("min-share", 0.2)),
        unreached_statuses=frozenset(int(code) for code in data["unreached-statuses"]),
        field_errors_only_422=bool(data.get("field-errors-only-422", True)),
        unreached_codes=frozenset(str(code) for code in data.get("unreached-error-codes", [])),
        exceptions={str(name): str(reason) for name, reason in data.get("exceptions", {}).items()},
    )


@dataclass(frozen=True)
class OperationReach:
    operation: str  # "METHOD /path/template"
    cases: int
    reached: int
    statuses: dict[str, int]  # answer code (or "error") -> cases
    exception: str | None = None  # the configured reason it may stay below the share

    @property
    def share(self) -> float:
        return self.reached / self.cases if self.cases else 0.0


@dataclass(frozen=True)
class ReachTable:
    min_share: float
    operations: tuple[OperationReach, ...]
    unmatched: int  # cases whose method and path are no operation of the schema (e.g. unsupported methods)
    # A run filtered to some operations (--include-...): the others have no cases, and that is no failure.
    partial: bool = False

    def below(self) -> list[OperationReach]:
        """Operations under the share that no exception excuses: each one fails the gate. An operation
        with no case at all is below too, unless the run was filtered."""
        return [
            op
            for op in self.operations
            if op.share < self.min_share and op.exception is None and (op.cases or not self.partial)
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "minShare": self.min_share,
            "unmatchedCases": self.unmatched,
            "operations": [
                {
                    "operation": op.operation,
                    "cases": op.cases,
                    "reached": op.reached,
                    "share": round(op.share, 3),
                    "statuses": op.statuses,
                    "exception": op.exception,
                }
                for op in self.operations
            ],
            "below": [op.operation for op in self.below()],
        }

    def as_text(self) -> str:
        lines = [f"{'operation':<72} {'cases':>6} {'reached':>7} {'share':>6}  answers"]
        for op in self.operations:
            mark = " (excepted)" if op.exception and op.share < self.min_share else ""
            mark = " BELOW" if op in self.below() else mark
            answers = " ".join(f"{code}:{count}" for code, count in sorted(op.statuses.items()))
            lines.append(f"{op.operation:<72} {op.cases:>6} {op.reached:>7} {op.share:>6.0%}  {answers}{mark}")
        lines.append(f"minimum share {self.min_share:.0%}; {self.unmatched} cases matched no operation")
        return "\n".join(lines)


def operation_patterns(schema: dict[str, Any]) -> list[tuple[str, str, re.Pattern[str]]]:
    """(METHOD, template, regex) per operation; literal templates before parameterised ones, so that
    `/api/integrations/logs` is not taken for `/api/integrations/{integration_id}`."""
    patterns = []
    for template, item in schema.get("paths", {}).items():
        parts = re.split(r"(\{[^}/]+\})", template)
        regex = "".join("[^/]*" if part.startswith("{") else re.escape(part) for part in parts)
        for method in item:
            if method in HTTP_METHODS:
                patterns.append((method.upper(), template, re.compile(f"^{regex}$")))
    return sorted(patterns, key=lambda entry: entry[1].count("{"))


# method, URL path, status (None: no answer), lists field errors, Schemathesis's phase (None: not recorded),
# the API error's code (None: no error model)
Case = tuple[str, str, int | None, bool, str | None, str | None]
STATEFUL_404 = "404 stateful"  # the answers key of a stateful chain's 404, which the share leaves out


def read_cassette(path: Path) -> list[Case]:
    """(method, URL path, status or None for no answer, whether the error lists field errors, phase, error
    code) per case."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506 - a safe loader
    cases = []
    for interaction in data.get("http_interactions") or []:
        request = interaction["request"]
        response = interaction.get("response")
        status = int(response["status"]["code"]) if response else None
        fields, code = _error_of(response.get("body", {}).get("string")) if response else (False, None)
        phase = (interaction.get("phase") or {}).get("name")
        method, url_path = str(request["method"]).upper(), urlsplit(str(request["uri"])).path
        cases.append((method, url_path, status, fields, phase, code))
    return cases


def _error_of(body: object) -> tuple[bool, str | None]:
    """Whether the body is the API's error model with field errors in `error.details`, and its code."""
    try:
        error = json.loads(str(body)).get("error")
    except (ValueError, AttributeError):
        return False, None
    if not isinstance(error, dict):
        return False, None
    code = error.get("code")
    return bool(error.get("details")), code if isinstance(code, str) else None


def compute_reach(
    schema: dict[str, Any], cases: list[Case], config: ReachConfig, *, partial: bool = False
) -> ReachTable:
    patterns = operation_patterns(schema)
    statuses: dict[str, Counter[str]] = {f"{method} {template}": Counter() for method, template, _ in patterns}
    reached: Counter[str] = Counter()
    unmatched = 0
    for method, path, status, field_errors, phase, code in cases:
        name = next((f"{m} {t}" for m, t, regex in patterns if m == method and regex.match(path)), None)
        if name is None:
            unmatched += 1
            continue
        if phase == "stateful" and status == 404:
            statuses[name][STATEFUL_404] += 1
            continue
        statuses[name]["error" if status is None else str(status)] += 1
        if status is not None and code not in config.unreached_codes and _reached(status, field_errors, config):
            reached[name] += 1
    operations = tuple(
        OperationReach(name, _counted(counts), reached[name], dict(counts), config.exceptions.get(name))
        for name, counts in sorted(statuses.items(), key=lambda entry: entry[0].split(" ", 1)[::-1])
    )
    return ReachTable(config.min_share, operations, unmatched, partial)


def _counted(answers: Counter[str]) -> int:
    return sum(count for answer, count in answers.items() if answer != STATEFUL_404)


def _reached(status: int, field_errors: bool, config: ReachConfig) -> bool:
    if status == 422 and config.field_errors_only_422 and not field_errors:
        return True
    return status not in config.unreached_statuses


def write_reach(report_dir: Path, config: ReachConfig | None = None, *, partial: bool = False) -> ReachTable | None:
    """The reach table of the run in `report_dir` (its openapi.json and cassette.yaml), written there as
    reach.json and reach.txt; None when the run left no cassette or schema to read."""
    schema_file, cassette = report_dir / "openapi.json", report_dir / "cassette.yaml"
    if not (schema_file.exists() and cassette.exists()):
        return None
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    table = compute_reach(schema, read_cassette(cassette), config or load_reach_config(), partial=partial)
    (report_dir / "reach.json").write_text(json.dumps(table.as_json(), indent=2) + "\n", encoding="utf-8")
    (report_dir / "reach.txt").write_text(table.as_text() + "\n", encoding="utf-8")
    return table
