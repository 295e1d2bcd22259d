"""Writing PayPal payment, order and subscription rows so that a newer state never loses to an older one.

Actions, webhooks and syncs learn about the same PayPal objects in any order. A payment's sale, an
order and a subscription move forward through a lifecycle (created → completed → partially refunded
→ refunded; CREATED → APPROVED → COMPLETED; APPROVAL_PENDING → ACTIVE ⇄ SUSPENDED → CANCELLED); a
state further along always wins, and between states equally far along the one with the later PayPal
time (`state_at`) wins. Descriptive fields (amount, payer, plan, ...) are filled in when learnt and
never erased. Rows are locked while merged.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, RowMapping, Table, func, select
from sqlalchemy.dialects.postgresql import insert

from integration_service.db.newer_state import is_newer, later
from integration_service.db.schema import paypal_orders, paypal_payments, paypal_subscriptions


@dataclass(frozen=True)
class Lifecycle:
    table: Table
    key: str  # the PayPal id column
    state: str  # the state column
    ranks: Mapping[str, int]  # how far along each state is; unknown states rank lowest
    descriptive: tuple[str, ...]

    def rank(self, state: object) -> int:
        return self.ranks.get(str(state), -1)


PAYMENTS = Lifecycle(
    paypal_payments,
    "paypal_payment_id",
    "state",
    {
        "created": 0,
        "approved": 1,
        "pending": 1,
        "completed": 2,
        "denied": 2,
        "failed": 2,
        "partially_refunded": 3,
        "refunded": 4,
    },
    ("sale_id", "intent", "amount", "currency", "payer_id"),
)
# Orders v2: CREATED (or PAYER_ACTION_REQUIRED) -> APPROVED (or SAVED) -> COMPLETED (or VOIDED).
ORDERS = Lifecycle(
    paypal_orders,
    "paypal_order_id",
    "status",
    {"CREATED": 0, "PAYER_ACTION_REQUIRED": 0, "APPROVED": 1, "SAVED": 1, "COMPLETED": 2, "VOIDED": 2},
    ("intent", "amount", "currency", "payer_id", "capture_id"),
)
SUBSCRIPTIONS = Lifecycle(
    paypal_subscriptions,
    "paypal_subscription_id",
    "status",
    {"APPROVAL_PENDING": 0, "APPROVED": 1, "ACTIVE": 2, "SUSPENDED": 2, "CANCELLED": 3, "EXPIRED": 3},
    ("plan_id", "subscriber_email", "start_time"),
)


def changes(lifecycle: Lifecycle, old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The column values to set on `old` given what `new` says; empty when it says nothing newer."""
    values: dict[str, Any] = {}
    for name in lifecycle.descriptive:
        if new.get(name) is not None and new[name] != old[name]:
            values[name] = new[name]
    new_state, new_at = new.get(lifecycle.state), new.get("state_at")
    if new_state is not None:
        old_rank, new_rank = lifecycle.rank(old[lifecycle.state]), lifecycle.rank(new_state)
        newer = new_rank > old_rank or (new_rank == old_rank and is_newer(old["state_at"], new_at))
        if newer and new_state != old[lifecycle.state]:
            values[lifecycle.state] = new_state
        if newer and later(old["state_at"], new_at) != old["state_at"]:
            values["state_at"] = later(old["state_at"], new_at)
    if "refunded_amount" in new and new["refunded_amount"] > old["refunded_amount"]:
        values["refunded_amount"] = new["refunded_amount"]  # an absolute total: it only grows
    updated_at = later(old["provider_updated_at"], new.get("provider_updated_at"))
    if values and updated_at != old["provider_updated_at"]:
        values["provider_updated_at"] = updated_at
    return values


def lock(connection: Connection, lifecycle: Lifecycle, *where: ColumnElement[bool]) -> Sequence[RowMapping]:
    table = lifecycle.table
    statement = select(table).where(*where).order_by(table.c.integration_id).with_for_update()
    return connection.execute(statement).mappings().all()


def merge(
    connection: Connection, lifecycle: Lifecycle, rows: Sequence[RowMapping], new: Mapping[str, Any]
) -> list[Any]:
    """Apply `new` to each locked row; the integration ids of the rows it changed."""
    changed = []
    for row in rows:
        values = changes(lifecycle, dict(row), new)
        if values:
            table = lifecycle.table
            connection.execute(table.update().where(table.c.id == row["id"]).values(**values, updated_at=func.now()))
            changed.append(row["integration_id"])
    return changed


def save(
    connection: Connection, lifecycle: Lifecycle, integration_id: uuid.UUID, user_id: str, new: Mapping[str, Any]
) -> None:
    """Insert the row an action learnt about, or merge it into the one already there."""
    table = lifecycle.table
    inserted = connection.execute(
        insert(table)
        .values(integration_id=integration_id, user_id=user_id, **new)
        .on_conflict_do_nothing(index_elements=["integration_id", lifecycle.key])
        .returning(table.c.id)
    ).scalar_one_or_none()
    if inserted is None:
        rows = lock(
            connection,
            lifecycle,
            table.c.integration_id == integration_id,
            table.c[lifecycle.key] == new[lifecycle.key],
        )
        merge(connection, lifecycle, rows, new)


def known_subscription_ids(engine: Engine, integration_id: uuid.UUID | None) -> list[str]:
    """The PayPal subscription ids stored for an integration: PayPal's subscription sync reads them
    (PayPal cannot list subscriptions); app.py hands this lookup to the provider."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(paypal_subscriptions.c.paypal_subscription_id)
                .where(paypal_subscriptions.c.integration_id == integration_id)
                .order_by(paypal_subscriptions.c.id)
            ).scalars()
        )
