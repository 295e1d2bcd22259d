"""The QuickBooks query parser on its own: what parses, and what errors it gives."""

from __future__ import annotations

import pytest

from provider_sandbox.providers.quickbooks.query import Condition, QueryParseError, QueryValidationError, parse_query


def test_full_query() -> None:
    query = parse_query(
        "SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime > '2024-01-01T00:00:00-08:00' "
        "AND TotalAmt >= 10 ORDERBY Metadata.LastUpdatedTime DESC, Id STARTPOSITION 101 MAXRESULTS 1000"
    )
    assert query.entity == "Invoice"
    assert query.where == [
        Condition("Metadata.LastUpdatedTime", ">", ("2024-01-01T00:00:00-08:00",)),
        Condition("TotalAmt", ">=", (10.0,)),
    ]
    assert query.order == [("Metadata.LastUpdatedTime", True), ("Id", False)]
    assert (query.start_position, query.max_results, query.count) == (101, 1000, False)


def test_keywords_are_case_insensitive_and_defaults_apply() -> None:
    query = parse_query("select count(*) from customer where Id in ('1', '2') and DisplayName like '%Smith%'")
    assert query.count
    assert query.where[0] == Condition("Id", "IN", ("1", "2"))
    assert query.where[1].op == "LIKE"
    assert (query.start_position, query.max_results) == (1, 100)


def test_projection_and_order_by_spelling() -> None:
    query = parse_query("select Id, DocNumber from Invoice order by TxnDate")
    assert query.fields == ("Id", "DocNumber")
    assert query.order == [("TxnDate", False)]


def test_escaped_quote_in_string() -> None:
    assert parse_query(r"select * from Customer where DisplayName = 'Craig\'s'").where[0].values == ("Craig's",)


@pytest.mark.parametrize(
    "text",
    [
        "select * from",
        "select * Invoice",
        "select * from Invoice where Id",
        "select * from Invoice where Id = ",
        "select * from Invoice maxresults",
        "select * from Invoice extra",
        "select * from Invoice where Id = 1 ;",
        "select count(Id) from Invoice",
    ],
)
def test_syntax_errors_name_the_position(text: str) -> None:
    with pytest.raises(QueryParseError, match="column"):
        parse_query(text)


@pytest.mark.parametrize(
    "text",
    [
        "select * from Invoice maxresults 1001",
        "select * from Invoice startposition 0",
        "select * from Invoice where Id = '1' or Id = '2'",
    ],
)
def test_validation_errors(text: str) -> None:
    with pytest.raises(QueryValidationError):
        parse_query(text)
