"""The QuickBooks Online query language, as far as a sync needs it.

    SELECT * | COUNT(*) | Field[, Field] FROM Entity
      [WHERE cond [AND cond]...]      cond: Field (=|<|>|<=|>=|!=) literal | Field IN (..) | Field LIKE '%x%'
      [ORDERBY Field [ASC|DESC][, ...]] [STARTPOSITION n] [MAXRESULTS m]

Keywords are case-insensitive; there is no OR (QuickBooks has none either). Syntax errors raise
`QueryParseError` (Intuit error 4000) and semantic ones `QueryValidationError` (4001), carrying
messages in Intuit's "QueryParserError: Encountered ..." style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_RESULTS_LIMIT = 1000
DEFAULT_MAX_RESULTS = 100

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[*(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "ORDERBY",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "STARTPOSITION",
    "MAXRESULTS",
    "COUNT",
    "IN",
    "LIKE",
    "IS",
    "NULL",
}


class QueryParseError(ValueError):
    code = "4000"
    message = "Error parsing query"


class QueryValidationError(ValueError):
    code = "4001"
    message = "Invalid query"


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | op | punct | word | end
    text: str
    column: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # = < > <= >= != IN LIKE
    values: tuple[str | float, ...]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: tuple[str, ...] = ()  # empty means *
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            column = position + 1 + (len(text[position:]) - len(text[position:].lstrip()))
            raise QueryParseError(f'QueryParserError: Encountered " "{text[column - 1]}" at line 1, column {column}.')
        kind = match.lastgroup or "word"
        value = match.group(kind)
        tokens.append(Token(kind, value, match.start(kind) + 1))
        position = match.end()
    tokens.append(Token("end", "<EOF>", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def fail(self, expected: str) -> QueryParseError:
        token = self.current
        return QueryParseError(
            f'QueryParserError: Encountered " <{token.kind.upper()}> "{token.text} "" at line 1, '
            f"column {token.column}.\nWas expecting: {expected}"
        )

    def take(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.current.kind == "word" and self.current.upper == word:
            self.index += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.fail(f'"{word}"')

    def expect_punct(self, char: str) -> None:
        if self.current.kind != "punct" or self.current.text != char:
            raise self.fail(f'"{char}"')
        self.index += 1

    def identifier(self) -> str:
        if self.current.kind != "word" or self.current.upper in _KEYWORDS:
            raise self.fail("<IDENTIFIER>")
        return self.take().text

    def literal(self) -> str | float:
        token = self.current
        if token.kind == "string":
            self.index += 1
            return token.text[1:-1].replace("\\'", "'")
        if token.kind == "number":
            self.index += 1
            return float(token.text)
        if token.kind == "word" and token.upper in ("TRUE", "FALSE"):
            self.index += 1
            return token.upper.lower()
        raise self.fail("<STRING> | <NUMBER> | true | false")

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail("<INTEGER>")
        self.index += 1
        return int(token.text)

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count, fields = False, []
        if self.current.text == "*":
            self.index += 1
        elif self.keyword("COUNT"):
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            count = True
        else:
            fields.append(self.identifier())
            while self.current.text == ",":
                self.index += 1
                fields.append(self.identifier())
        self.expect_keyword("FROM")
        query = Query(entity=self.identifier(), count=count, fields=tuple(fields))
        if self.keyword("WHERE"):
            query.where.append(self.condition())
            while self.keyword("AND"):
                query.where.append(self.condition())
            if self.current.upper == "OR":
                raise QueryValidationError("QueryValidationError: OR operator is not supported")
        if self.keyword("ORDERBY") or (self.keyword("ORDER") and self._by()):
            query.order.append(self.order_item())
            while self.current.text == ",":
                self.index += 1
                query.order.append(self.order_item())
        self.paging(query)
        if self.current.kind != "end":
            raise self.fail("<EOF>")
        return query

    def _by(self) -> bool:
        self.expect_keyword("BY")
        return True

    def condition(self) -> Condition:
        name = self.identifier()
        if self.keyword("IN"):
            self.expect_punct("(")
            values = [self.literal()]
            while self.current.text == ",":
                self.index += 1
                values.append(self.literal())
            self.expect_punct(")")
            return Condition(name, "IN", tuple(values))
        if self.keyword("LIKE"):
            if self.current.kind != "string":
                raise self.fail("<STRING>")
            return Condition(name, "LIKE", (self.literal(),))
        if self.current.kind != "op":
            raise self.fail('"=" | "<" | ">" | "<=" | ">=" | "!=" | "IN" | "LIKE"')
        op = self.take().text
        return Condition(name, op, (self.literal(),))

    def order_item(self) -> tuple[str, bool]:
        name = self.identifier()
        if self.keyword("DESC"):
            return name, True
        self.keyword("ASC")
        return name, False

    def paging(self, query: Query) -> None:
        seen: set[str] = set()
        while self.current.upper in ("STARTPOSITION", "MAXRESULTS") and self.current.upper not in seen:
            word = self.take().upper
            seen.add(word)
            value = self.integer()
            if word == "STARTPOSITION":
                if value < 1:
                    raise QueryValidationError("QueryValidationError: STARTPOSITION must be >= 1")
                query.start_position = value
            else:
                if value > MAX_RESULTS_LIMIT:
                    raise QueryValidationError(
                        f"QueryValidationError: value {value} is too large. Max allowed value is {MAX_RESULTS_LIMIT}"
                    )
                query.max_results = value


def parse_query(text: str) -> Query:
    if not text.strip():
        raise QueryParseError('QueryParserError: Encountered " <EOF> """ at line 1, column 1.')
    return _Parser(text).parse()
