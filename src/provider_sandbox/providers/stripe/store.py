"""Stripe accounts and their objects, stored as the JSON Stripe returns, plus list paging and expand.

Objects live in creation order per type, so "newest first" (Stripe's list order) is that order
reversed. Ids carry Stripe's prefixes (cus_, ch_, pi_, re_, sub_, price_, prod_, evt_).
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from provider_sandbox.providers.stripe.wire import StripeError, as_int, as_str, invalid

MAX_LIMIT = 100
_ALPHABET = string.ascii_letters + string.digits
# Which type an id prefix names, so `expand` and `starting_after` can find any object.
PREFIX_TYPES = {
    "cus": "customer",
    "ch": "charge",
    "py": "charge",
    "pi": "payment_intent",
    "re": "refund",
    "sub": "subscription",
    "si": "subscription_item",
    "price": "price",
    "prod": "product",
    "evt": "event",
    "txn": "balance_transaction",
}


def new_id(prefix: str, seed: str | None = None) -> str:
    """`prefix_` + 24 alphanumerics; deterministic when seeded (seed data), random otherwise."""
    if seed is None:
        tail = "".join(secrets.choice(_ALPHABET) for _ in range(24))
    else:
        digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
        tail = ""
        for _ in range(24):
            digest, index = divmod(digest, len(_ALPHABET))
            tail += _ALPHABET[index]
    return f"{prefix}_{tail}"


@dataclass
class Call:
    """One authenticated API call, as resource handlers see it."""

    account: Account
    params: dict[str, Any]
    path: dict[str, str]
    request_id: str
    idempotency_key: str | None
    now: int


@dataclass
class Account:
    id: str
    secret_keys: tuple[str, ...]
    api_version: str
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_type: dict[str, list[str]] = field(default_factory=dict)
    # Idempotency-Key -> (fingerprint of method+path+params, status, body)
    idempotency: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        self.by_type.setdefault(obj["object"], []).append(obj["id"])
        return obj

    def get(self, object_type: str, object_id: str, param: str = "id") -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != object_type or obj.get("deleted"):
            label = object_type.replace("_", " ")
            raise StripeError(404, f"No such {label}: '{object_id}'", code="resource_missing", param=param)
        return obj

    def all(self, object_type: str) -> list[dict[str, Any]]:
        """Newest first, as Stripe lists."""
        return [self.objects[i] for i in reversed(self.by_type.get(object_type, []))]


_CREATED_OPS: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def created_filter(params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """`created=<ts>` or `created[gt|gte|lt|lte]=<ts>`."""
    raw = params.get("created")
    if raw is None:
        return lambda obj: True
    if isinstance(raw, str):
        exact = as_int(params, "created")
        return lambda obj: obj["created"] == exact
    if not isinstance(raw, dict) or not set(raw) <= set(_CREATED_OPS):
        raise invalid("Invalid created: use created[gt], created[gte], created[lt] or created[lte]", "created")
    bounds = [(_CREATED_OPS[op], as_int(raw, op, param_name=f"created[{op}]")) for op in raw]
    return lambda obj: all(test(obj["created"], bound) for test, bound in bounds if bound is not None)


def list_page(
    account: Account,
    objects: Iterable[dict[str, Any]],
    params: dict[str, Any],
    url: str,
) -> dict[str, Any]:
    """Stripe's cursor paging over `objects` (newest first): limit, starting_after, ending_before."""
    limit = as_int(params, "limit", minimum=1, default=10)
    assert limit is not None
    if limit > MAX_LIMIT:
        raise invalid(f"This value must be less than or equal to {MAX_LIMIT} (it currently is '{limit}')", "limit")
    after, before = as_str(params, "starting_after"), as_str(params, "ending_before")
    if after and before:
        raise invalid("You may only specify one of these parameters: ending_before, starting_after.")
    keep = created_filter(params)
    items = [obj for obj in objects if keep(obj)]
    ids = [obj["id"] for obj in items]
    if after or before:
        cursor = after or before
        assert cursor is not None
        if cursor not in ids:
            # Stripe answers 404 when the cursor object does not exist (or is not in this list).
            raise StripeError(
                404,
                f"No such object: '{cursor}'",
                code="resource_missing",
                param="starting_after" if after else "ending_before",
            )
        position = ids.index(cursor)
        if after:
            window = items[position + 1 : position + 1 + limit]
            has_more = position + 1 + limit < len(items)
        else:
            start = max(0, position - limit)
            window = items[start:position]
            has_more = start > 0
    else:
        window, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": window, "has_more": has_more, "url": url}


def expand(account: Account, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A copy of `obj` with the id fields named by `paths` (dotted, `data.` for lists) replaced."""
    result: dict[str, Any] = _copy(obj)
    for path in paths:
        if path.count(".") > 3:
            raise invalid(f"You cannot expand more than 4 levels of a property: {path}", "expand")
        if not _expand_path(account, result, path.split(".")):
            raise invalid(f"This property cannot be expanded ({path}).", "expand")
    return result


def _expand_path(account: Account, node: dict[str, Any], parts: list[str]) -> bool:
    head, rest = parts[0], parts[1:]
    if head not in node:
        return False
    value = node[head]
    if not rest:
        if isinstance(value, str):
            target = account.objects.get(value)
            if target is None or value.split("_")[0] not in PREFIX_TYPES:
                return False
            node[head] = _copy(target)
            return True
        return value is None or isinstance(value, dict)  # null, or already expanded
    if isinstance(value, list):
        return all(_expand_path(account, item, rest) for item in value if isinstance(item, dict))
    if isinstance(value, str):
        if not _expand_path(account, node, [head]):
            return False
        value = node[head]
    return isinstance(value, dict) and _expand_path(account, value, rest)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


Result = tuple[int, dict[str, Any]]  # (HTTP status, object) of a resource handler


class Emitter(Protocol):
    """What resource handlers need from the simulator: recording and delivering events."""

    def emit(
        self,
        call: Call | None,
        account: Account,
        event_type: str,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
        deliver: bool = True,
    ) -> dict[str, Any]: ...
