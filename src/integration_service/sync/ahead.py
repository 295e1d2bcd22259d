"""Fetch the next page while the caller stores this one: a provider's page iterator, one page ahead.

The provider's generator runs on one helper thread, one `next()` at a time, in a copy of the caller's
context (so the run's SQL statement counter still sees a token read made while fetching). At most
one page is fetched ahead and none after the caller stops: closing the iterator (the run failed,
was closed as interrupted, or ended) waits for the fetch under way and closes the provider's
generator. A fetch's exception is raised to the caller when it asks for that page, after every page
before it was handed over, exactly as without the helper.
"""

from __future__ import annotations

import contextvars
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def _take(pages: Iterator[T]) -> list[T]:
    """The next item as a list of one; [] at the end."""
    for item in pages:
        return [item]
    return []


def one_ahead(pages: Iterator[T]) -> Generator[T, None, None]:
    """`pages`, item by item, the next one fetched on a helper thread while the caller works on this one."""
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch") as fetcher:
        try:
            pending = fetcher.submit(context.run, _take, pages)
            while taken := pending.result():
                pending = fetcher.submit(context.run, _take, pages)
                yield taken[0]
        finally:
            fetcher.shutdown(wait=True)  # the fetch under way ends before the generator is closed
            close = getattr(pages, "close", None)
            if close is not None:
                close()
