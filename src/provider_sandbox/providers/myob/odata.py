"""The OData v3 query options MYOB AccountRight accepts on collections: $top/$skip/$filter/$orderby.

Only what a sync needs is implemented; anything else is a 400, never silently ignored.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import Any

from provider_sandbox.core.seed import Invoice

DEFAULT_TOP = 400
MAX_TOP = 1000
_STATUS = {"DRAFT": "Open", "AUTHORISED": "Open", "PAID": "Closed", "VOIDED": "Closed"}

_FIELDS: dict[str, Callable[[Invoice], Any]] = {
    "LastModified": lambda inv: inv.updated_at,
    "Date": lambda inv: datetime.combine(inv.issued, time(), tzinfo=UTC),
    "Number": lambda inv: f"{inv.seq:08d}",
    "Status": lambda inv: _STATUS[inv.status],
    "UID": lambda inv: inv.key,
    "TotalAmount": lambda inv: inv.total,
    "BalanceDueAmount": lambda inv: inv.amount_due,
}
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_CLAUSE = re.compile(
    r"^\s*(?P<field>[A-Za-z/]+)\s+(?P<op>eq|ne|gt|ge|lt|le)\s+"
    r"(?:datetime'(?P<dt>[^']+)'|guid'(?P<guid>[^']+)'|'(?P<str>[^']*)'|(?P<num>-?\d+(?:\.\d+)?))\s*$"
)


class ODataError(ValueError):
    """A query option the sandbox cannot apply; the message names the option."""


def _non_negative(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ODataError(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def page_number_of(params: Mapping[str, str]) -> int | None:
    """1-based page index implied by $skip/$top, for page-targeted faults."""
    try:
        top = _non_negative(params, "$top", DEFAULT_TOP) or DEFAULT_TOP
        return _non_negative(params, "$skip", 0) // top + 1
    except ODataError:
        return None


def _parse_datetime(raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ODataError(f"invalid datetime literal {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # MYOB times carry no offset


def _kind(value: Any) -> str:
    if isinstance(value, datetime):
        return "datetime"
    return "number" if isinstance(value, int | float) else "string"


def _clause(
    getter: Callable[[Invoice], Any], compare: Callable[[Any, Any], bool], value: Any
) -> Callable[[Invoice], bool]:
    return lambda inv: bool(compare(getter(inv), value))


def parse_filter(raw: str) -> Callable[[Invoice], bool]:
    clauses: list[Callable[[Invoice], bool]] = []
    for part in re.split(r"\s+and\s+", raw.strip()):
        match = _CLAUSE.match(part)
        if match is None or match.group("field") not in _FIELDS:
            raise ODataError(f"unsupported $filter clause {part!r}; fields: {sorted(_FIELDS)}")
        getter, compare = _FIELDS[match.group("field")], _OPERATORS[match.group("op")]
        value: Any
        if match.group("dt") is not None:
            value = _parse_datetime(match.group("dt"))
        elif match.group("guid") is not None:
            value = match.group("guid").lower()
        elif match.group("str") is not None:
            value = match.group("str")
        else:
            value = float(match.group("num"))
        if _kind(value) != _kind(getter(_SAMPLE)):
            raise ODataError(f"type mismatch in $filter clause {part!r}")
        clauses.append(_clause(getter, compare, value))
    return lambda inv: all(clause(inv) for clause in clauses)


def apply_odata(records: list[Invoice], params: Mapping[str, str]) -> tuple[list[Invoice], int, int, int]:
    """Returns (page, total matching, $top used, $skip used)."""
    top = _non_negative(params, "$top", DEFAULT_TOP)
    skip = _non_negative(params, "$skip", 0)
    if not 1 <= top <= MAX_TOP:
        raise ODataError(f"$top must be between 1 and {MAX_TOP}")
    selected = records
    if params.get("$filter"):
        keep = parse_filter(params["$filter"])
        selected = [inv for inv in selected if keep(inv)]
    if params.get("$orderby"):
        parts = params["$orderby"].split()
        if len(parts) not in (1, 2) or parts[0] not in _FIELDS or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
            raise ODataError(f"unsupported $orderby {params['$orderby']!r}")
        selected = sorted(selected, key=_FIELDS[parts[0]], reverse=parts[-1] == "desc")
    return selected[skip : skip + top], len(selected), top, skip


# Used only to learn each field's Python type when checking literals.
_SAMPLE = Invoice(
    seq=1,
    key="00000000-0000-0000-0000-000000000000",
    number="",
    contact_seq=1,
    issued=datetime(2000, 1, 1, tzinfo=UTC).date(),
    due=datetime(2000, 1, 1, tzinfo=UTC).date(),
    status="DRAFT",
    currency="AUD",
    tax_rate=0.0,
    lines=[],
    created_at=datetime(2000, 1, 1, tzinfo=UTC),
    updated_at=datetime(2000, 1, 1, tzinfo=UTC),
)
