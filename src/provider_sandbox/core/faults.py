"""Fault injection: rules that make the next matching provider calls fail, throttle or stall.

A rule matches by provider, HTTP method, a substring of the path and optionally a page number
(the provider module works out which page a listing request asks for). Each provider renders
the failure the way the real one signals it; this module only decides *whether* to fail.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS = ("error", "rate_limit", "delay", "malformed")


class FaultSpecError(ValueError):
    """The control API was given a rule it cannot apply; the message says which field is wrong."""


@dataclass
class FaultRule:
    id: int
    provider: str
    kind: str
    path: str = ""  # substring of the request path; "" matches every path of the provider
    method: str | None = None
    status: int = 500  # for kind=error
    times: int | None = 1  # None: until deleted
    page: int | None = None  # only listing requests for this page (1-based)
    retry_after: int | None = None  # seconds, for kind=rate_limit
    limit_problem: str = "minute"  # Xero's X-Rate-Limit-Problem: minute | day | appminute
    delay_ms: int = 0  # added before the response; with kind=delay the call then succeeds
    message: str | None = None
    hits: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_ALLOWED_FIELDS = {
    "provider",
    "kind",
    "path",
    "method",
    "status",
    "times",
    "page",
    "retry_after",
    "limit_problem",
    "delay_ms",
    "message",
}


def parse_rule(rule_id: int, raw: dict[str, Any], providers: tuple[str, ...]) -> FaultRule:
    unknown = set(raw) - _ALLOWED_FIELDS
    if unknown:
        raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}; allowed: {sorted(_ALLOWED_FIELDS)}")
    provider, kind = raw.get("provider"), raw.get("kind", "error")
    if provider not in providers:
        raise FaultSpecError(f"provider must be one of {list(providers)}")
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"kind must be one of {list(FAULT_KINDS)}")
    try:
        rule = FaultRule(id=rule_id, **{**raw, "kind": kind})
    except TypeError as exc:
        raise FaultSpecError(str(exc)) from None
    _check_ints(rule)
    if rule.kind == "error" and not 400 <= rule.status <= 599:
        raise FaultSpecError("status must be an HTTP error status (400-599)")
    if rule.limit_problem not in ("minute", "day", "appminute"):
        raise FaultSpecError("limit_problem must be minute, day or appminute")
    if rule.method is not None:
        rule.method = rule.method.upper()
    return rule


def _check_ints(rule: FaultRule) -> None:
    for name in ("path", "limit_problem"):
        if not isinstance(getattr(rule, name), str):
            raise FaultSpecError(f"{name} must be a string")
    if rule.method is not None and not isinstance(rule.method, str):
        raise FaultSpecError("method must be a string such as GET")
    for name in ("status", "times", "page", "retry_after", "delay_ms"):
        value = getattr(rule, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise FaultSpecError(f"{name} must be a non-negative integer")
    if rule.times == 0:
        raise FaultSpecError("times must be >= 1 (or null for 'until deleted')")
    if rule.delay_ms > 120_000:
        raise FaultSpecError("delay_ms must be <= 120000")


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, raw: dict[str, Any], providers: tuple[str, ...]) -> FaultRule:
        rule = parse_rule(next(self._ids), raw, providers)
        self._rules.append(rule)
        return rule

    def take(self, provider: str, method: str, path: str, page: int | None) -> FaultRule | None:
        """The first live rule matching this call, consuming one of its `times`."""
        for rule in self._rules:
            if rule.provider != provider or rule.path not in path:
                continue
            if rule.method is not None and rule.method != method.upper():
                continue
            if rule.page is not None and rule.page != page:
                continue
            rule.hits += 1
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self._rules.remove(rule)
            return rule
        return None

    def list(self) -> list[FaultRule]:
        return list(self._rules)

    def delete(self, rule_id: int) -> bool:
        before = len(self._rules)
        self._rules = [rule for rule in self._rules if rule.id != rule_id]
        return len(self._rules) != before

    def clear(self) -> None:
        self._rules.clear()
