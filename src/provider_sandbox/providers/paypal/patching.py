"""JSON Patch requests to billing objects (`PATCH /v1/billing/plans/{id}`, `.../subscriptions/{id}`),
checked the way the billing spec documents their 400 answers.

Each operation's path is a JSON Pointer; only the fields the spec's table names can be patched, each
with the operations it allows. The whole request is checked before anything is changed, so a bad
operation leaves the object as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from provider_sandbox.providers.paypal.errors import (
    REPEATED_PATCH_PATH,
    PayPalError,
    bad_field,
    billing_malformed,
    detail,
    json_value,
)

Check = Callable[[Any, str], Any]  # (value, path) -> the value to store, or raises a 400


@dataclass(frozen=True)
class Patchable:
    operations: tuple[str, ...]  # e.g. ("replace",) or ("add", "replace")
    check: Check


@dataclass(frozen=True)
class Operation:
    path: str
    value: Any


async def read_operations(request: Request, patchable: Mapping[str, Patchable]) -> list[Operation]:
    """The request's operations, every one checked, or the 400 PayPal gives for the first bad one."""
    ops = await json_value(request, billing_malformed)
    if not isinstance(ops, list) or not ops:
        raise bad_field("/", "INVALID_PARAMETER_SYNTAX")
    checked: list[Operation] = []
    for op in ops:
        checked.append(_checked(op, patchable))
        if [item.path for item in checked].count(checked[-1].path) > 1:
            raise PayPalError(
                400, details=[detail(checked[-1].path, "INVALID_PATCH_PATH", description=REPEATED_PATCH_PATH)]
            )
    return checked


def _checked(op: Any, patchable: Mapping[str, Patchable]) -> Operation:
    if not isinstance(op, dict) or not isinstance(op.get("path"), str):
        raise bad_field("/", "INVALID_PARAMETER_SYNTAX")
    path, name = op["path"], op.get("op")
    rule = patchable.get(path)
    if rule is None:
        raise bad_field(path, "INVALID_PATCH_PATH")
    if name not in rule.operations:
        raise bad_field(path, "UNSUPPORTED_PATCH_OPERATION", name if isinstance(name, str) else None)
    if "value" not in op:
        raise bad_field(path, "MISSING_REQUIRED_PARAMETER")
    return Operation(path, rule.check(op["value"], path))


def apply(target: dict[str, Any], operations: list[Operation], defaults: Mapping[str, dict[str, Any]]) -> None:
    """Store each value at its pointer; `defaults` starts a missing parent object (e.g. `taxes`)."""
    for operation in operations:
        *parents, leaf = operation.path.strip("/").split("/")
        node = target
        for part in parents:
            node = node.setdefault(part, dict(defaults.get(part, {})))
        node[leaf] = operation.value
