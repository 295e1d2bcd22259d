"""one_ahead: pages in order, at most one fetched ahead, a fetch's error after the pages before it, none after close."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from integration_service.sync.ahead import one_ahead


class _Pages:
    """A provider's page generator that records how far it was asked to go."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.fetched: list[int] = []
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[int]:
        try:
            for number in range(self.count):
                if number == self.fail_at:
                    raise RuntimeError(f"page {number} failed")
                self.fetched.append(number)
                yield number
        finally:
            self.closed.set()


def test_pages_come_in_order_and_at_most_one_ahead() -> None:
    source = _Pages(5)
    seen = []
    for page in one_ahead(iter(source)):
        seen.append(page)
        assert len(source.fetched) <= page + 2  # this page and, at most, the next
    assert seen == [0, 1, 2, 3, 4]
    assert source.closed.is_set()


def test_a_failed_fetch_is_raised_after_the_pages_before_it() -> None:
    pages = one_ahead(iter(_Pages(5, fail_at=2)))
    assert [next(pages), next(pages)] == [0, 1]
    with pytest.raises(RuntimeError, match="page 2 failed"):
        next(pages)


def test_closing_stops_fetching_and_closes_the_source() -> None:
    source = _Pages(100)
    pages = one_ahead(iter(source))
    assert next(pages) == 0
    pages.close()
    assert source.closed.is_set()
    assert len(source.fetched) <= 2
