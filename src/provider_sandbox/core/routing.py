"""The one way the sandbox registers HTTP routes: a table of `Route(method, path, handler)` rows
that `mount` adds to a FastAPI router.

A row's handler is either a FastAPI endpoint (a bound method whose parameters FastAPI reads: path
parameters, query parameters, the `Request`), or a provider-specific handler that the provider's
`adapt` function turns into an endpoint (Stripe's `(api, call)`, BillionMail's `(instance, params,
now)`, Mautic's `(instance, request, path)`): the adapter does what every route of that provider
shares -- authentication, body decoding, rendering errors in the provider's wire format.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from fastapi import APIRouter, Response

HttpEndpoint = Callable[..., Awaitable[Response]]
H = TypeVar("H", covariant=True)


@dataclass(frozen=True)
class Route(Generic[H]):
    method: str  # "GET", "POST", ...
    path: str  # relative to the router's mount point, e.g. "/api/connections"
    handler: H


@overload
def mount(router: APIRouter, routes: Iterable[Route[HttpEndpoint]]) -> APIRouter: ...


@overload
def mount(router: APIRouter, routes: Iterable[Route[H]], adapt: Callable[[H], HttpEndpoint]) -> APIRouter: ...


def mount(
    router: APIRouter, routes: Iterable[Route[Any]], adapt: Callable[[Any], HttpEndpoint] | None = None
) -> APIRouter:
    """Add every row to `router` (wrapping handlers with `adapt` when given) and return it."""
    for route in routes:
        endpoint = adapt(route.handler) if adapt is not None else route.handler
        router.add_api_route(route.path, endpoint, methods=[route.method], include_in_schema=False)
    return router
