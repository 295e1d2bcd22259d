"""Xero's `where` and `order` query parameters, parsed into a filter and a sort.

Xero evaluates `where` as a .NET Dynamic LINQ expression over the record. The sandbox understands the
forms Xero documents and SDKs send:

    Status=="PAID"                      Field op literal; op is == != > >= < <=
    Type=="ACCREC" AND Total > 100      AND / && bind tighter than OR / ||; NOT / !; parentheses
    Date >= DateTime(2024, 01, 31)      DateTime(y, m, d) or DateTime(y, m, d, h, min, s), UTC
    Contact.ContactID==guid("...")      GUID fields compare with guid("...") only, as in Xero
    Name.Contains("x")                  also StartsWith / EndsWith, on text fields
    IsSupplier==true, Reference==null   booleans, null

Text comparisons ignore case, as Xero's database collation does. Anything else (another method, a field
the record lacks, a type mismatch such as a GUID field against a string) is a 400 QueryParseException,
never ignored: unfiltered data would hide a client's bug instead of exposing it.

`order` is one or more `Field [ASC|DESC]`, comma-separated, over the same fields (nulls first, as in SQL).
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from provider_sandbox.providers.xero.wire import XeroQueryError

Predicate = Callable[[Any], bool]

# The .NET type names Xero's parser uses in its messages, per kind of field.
TYPE_NAMES = {"text": "String", "bool": "Boolean", "number": "Decimal", "date": "DateTime", "guid": "Guid"}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_ORDERED_KINDS = ("number", "date")  # kinds that take > >= < <= besides == and !=
_TEXT_METHODS: dict[str, Callable[[str, str], bool]] = {
    "Contains": lambda value, part: part in value,
    "StartsWith": str.startswith,
    "EndsWith": str.endswith,
}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<symbol>==|!=|>=|<=|&&|\|\||[<>().,!-])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Field:
    """One field `where`/`order` may name: its kind and how to read it (None when the record has none)."""

    kind: str  # text | bool | number | date | guid
    read: Callable[[Any], Any]

    def value(self, record: Any) -> Any:
        """The value in comparable form: text folded for case, GUIDs lower-cased, dates as UTC datetimes."""
        raw = self.read(record)
        if raw is None:
            return None
        if self.kind == "text":
            return str(raw).casefold()
        if self.kind == "guid":
            return str(raw).lower()
        return raw


@dataclass(frozen=True)
class Literal:
    kind: str  # a Field kind, or "null"
    value: Any


def parse_error(message: str) -> XeroQueryError:
    return XeroQueryError(message, "QueryParseException", 16)


def where_filter(raw: str, fields: dict[str, Field], type_name: str) -> Predicate:
    """The record filter `raw` describes; a 400 (XeroQueryError) when Xero would refuse it or the sandbox
    does not understand it."""
    return _WhereParser(raw, fields, type_name).parse()


def sort_records(records: list[Any], raw: str, fields: dict[str, Field], type_name: str) -> list[Any]:
    """`records` in the order `raw` (`Field [ASC|DESC], ...`) asks for."""
    keys = [_order_key(part, fields, type_name) for part in raw.split(",")]
    ordered = list(records)
    for field, descending in reversed(keys):  # stable sorts, least significant key first
        ordered.sort(key=_nulls_first(field), reverse=descending)
    return ordered


def _nulls_first(field: Field) -> Callable[[Any], tuple[bool, Any]]:
    def key(record: Any) -> tuple[bool, Any]:
        value = field.value(record)
        return (value is not None, value if value is not None else 0)

    return key


def _order_key(part: str, fields: dict[str, Field], type_name: str) -> tuple[Field, bool]:
    words = part.split()
    direction = words[1].upper() if len(words) == 2 else "ASC"
    if len(words) not in (1, 2) or direction not in ("ASC", "DESC"):
        raise parse_error(f"Unsupported order {part.strip()!r}: use Field [ASC|DESC], comma-separated")
    return _field(fields, words[0], type_name), direction == "DESC"


def _field(fields: dict[str, Field], name: str, type_name: str) -> Field:
    if name not in fields:
        raise parse_error(
            f"No property or field '{name}' exists in type '{type_name}' (the sandbox knows {sorted(fields)})"
        )
    return fields[name]


def _tokens(raw: str) -> list[tuple[str, str]]:
    tokens, position, text = [], 0, raw.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise parse_error(f"Syntax error in where at position {position}: {text[position : position + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _WhereParser:
    """Recursive descent: or := and (OR and)*; and := unary (AND unary)*; unary := NOT unary | (or) | test."""

    def __init__(self, raw: str, fields: dict[str, Field], type_name: str) -> None:
        self.raw = raw
        self.tokens = _tokens(raw)
        self.position = 0
        self.fields = fields
        self.type_name = type_name

    def parse(self) -> Predicate:
        if not self.tokens:
            raise parse_error("where is empty")
        predicate = self._or()
        if self.position < len(self.tokens):
            raise parse_error(f"Unexpected {self._peek()[1]!r} in where {self.raw!r}")
        return predicate

    # --- tokens ---

    def _peek(self, ahead: int = 0) -> tuple[str, str]:
        index = self.position + ahead
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token[0] == "end":
            raise parse_error(f"where {self.raw!r} ends too early")
        self.position += 1
        return token

    def _take(self, *spellings: str) -> bool:
        """Consume the next token if it is one of `spellings` (keywords in any case)."""
        kind, text = self._peek()
        if kind in ("symbol", "word") and (text in spellings or text.upper() in spellings):
            self.position += 1
            return True
        return False

    def _expect(self, symbol: str) -> None:
        if not self._take(symbol):
            raise parse_error(f"Expected {symbol!r} in where {self.raw!r}, found {self._peek()[1]!r}")

    # --- grammar ---

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._take("OR", "||"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda record: any(part(record) for part in parts))

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._take("AND", "&&"):
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda record: all(part(record) for part in parts))

    def _unary(self) -> Predicate:
        if self._take("NOT", "!"):
            inner = self._unary()
            return lambda record: not inner(record)
        if self._take("("):
            inner = self._or()
            self._expect(")")
            return inner
        return self._test()

    def _test(self) -> Predicate:
        path, method = self._path()
        field = _field(self.fields, path, self.type_name)
        if method is not None:
            return self._method_call(field, method)
        kind, text = self._peek()
        if kind == "symbol" and text in _COMPARISONS:
            self.position += 1
            return _comparison(field, text, self._literal())
        if field.kind == "bool":  # a boolean field alone means `== true`, as in LINQ
            return lambda record: field.value(record) is True
        raise parse_error(f"Expected an operator after {path!r} in where {self.raw!r}")

    def _path(self) -> tuple[str, str | None]:
        """A dotted field name (`Contact.ContactID`) and the text method called on it, if any."""
        kind, first = self._next()
        if kind != "word":
            raise parse_error(f"Expected a field name in where {self.raw!r}, found {first!r}")
        words = [first]
        while self._peek() == ("symbol", ".") and self._peek(1)[0] == "word":
            if self._peek(2) == ("symbol", "("):
                self.position += 2
                return ".".join(words), self.tokens[self.position - 1][1]
            words.append(self._peek(1)[1])
            self.position += 2
        return ".".join(words), None

    def _method_call(self, field: Field, method: str) -> Predicate:
        if method not in _TEXT_METHODS or field.kind != "text":
            raise parse_error(f"No applicable method '{method}' exists in type '{TYPE_NAMES[field.kind]}'")
        self._expect("(")
        argument = self._literal()
        self._expect(")")
        if argument.kind != "text":
            raise parse_error(f'{method} takes a string, as in {method}("text")')
        test, part = _TEXT_METHODS[method], str(argument.value).casefold()
        return lambda record: (value := field.value(record)) is not None and test(value, part)

    def _literal(self) -> Literal:
        kind, text = self._next()
        if kind == "string":
            return Literal("text", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "number":
            return Literal("number", float(text))
        if (kind, text) == ("symbol", "-") and self._peek()[0] == "number":
            return Literal("number", -float(self._next()[1]))
        word = text.lower() if kind == "word" else ""
        if word in ("true", "false"):
            return Literal("bool", word == "true")
        if word == "null":
            return Literal("null", None)
        if word == "datetime":
            return self._date_time()
        if word == "guid":
            return self._guid()
        raise parse_error(f"Unsupported value {text!r} in where {self.raw!r}")

    def _date_time(self) -> Literal:
        self._expect("(")
        parts = [self._next()]
        while self._take(","):
            parts.append(self._next())
        self._expect(")")
        if len(parts) not in (3, 6) or any(kind != "number" or not text.isdigit() for kind, text in parts):
            raise parse_error("DateTime takes (year, month, day) or (year, month, day, hour, minute, second)")
        numbers = [int(text) for _, text in parts]
        year, month, day, hour, minute, second = [*numbers, 0, 0, 0][:6]
        try:
            return Literal("date", datetime(year, month, day, hour, minute, second, tzinfo=UTC))
        except ValueError as error:
            raise parse_error(f"DateTime{tuple(numbers)} is not a date: {error}") from None

    def _guid(self) -> Literal:
        self._expect("(")
        kind, text = self._next()
        self._expect(")")
        try:
            if kind != "string":
                raise ValueError(text)
            return Literal("guid", str(uuid.UUID(text[1:-1])))
        except ValueError:
            raise parse_error(f"guid({text}) is not a GUID in quotes") from None


def _comparison(field: Field, op: str, literal: Literal) -> Predicate:
    if literal.kind == "null":
        if op not in ("==", "!="):
            raise parse_error(f"Operator '{op}' cannot compare with null")
        return lambda record: (field.value(record) is None) == (op == "==")
    same_kind = literal.kind == field.kind
    if not same_kind or (op not in ("==", "!=") and field.kind not in _ORDERED_KINDS):
        raise parse_error(
            f"Operator '{op}' incompatible with operand types '{TYPE_NAMES[field.kind]}' and "
            f"'{TYPE_NAMES[literal.kind]}'"
        )
    expected = _comparable(literal)
    compare = _COMPARISONS[op]
    # A missing value (an unpaid invoice's FullyPaidOnDate) never satisfies a comparison, as NULL in SQL.
    return lambda record: (value := field.value(record)) is not None and compare(value, expected)


def _comparable(literal: Literal) -> Any:
    return str(literal.value).casefold() if literal.kind == "text" else literal.value
