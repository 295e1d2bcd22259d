"""Read routes for synced records: `/api/integrations/{provider}/{kind}`, scoped to the caller.

One route per record table, its response model derived from the table, so the API and the schema
cannot drift apart.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import create_model
from sqlalchemy import Boolean, DateTime, Numeric, Table, Uuid

from integration_service.api.dependencies import CurrentUser, DatabaseEngine
from integration_service.api.errors import InvalidInput, documented_errors
from integration_service.api.models import DECIMAL_DIGITS, ApiModel, IsoDateTime, Page
from integration_service.db.listing import HIDDEN_COLUMNS, page_of_rows
from integration_service.db.schema import (
    myob_invoices,
    paypal_orders,
    quickbooks_invoices,
    stripe_payments,
    stripe_subscriptions,
    xero_contacts,
    xero_invoices,
)

router = APIRouter(prefix="/api/integrations", tags=["synced records"])


def _python_type(table: Table, name: str) -> Any:
    column_type = table.c[name].type
    python: Any = str
    if isinstance(column_type, Numeric):
        python = Decimal
    elif isinstance(column_type, DateTime):
        python = datetime
    elif isinstance(column_type, Boolean):
        python = bool
    elif isinstance(column_type, Uuid):  # derived from the column, not its name
        python = uuid.UUID
    return python


def _record_model(table: Table) -> type[ApiModel]:
    fields: dict[str, Any] = {}
    for column in table.columns:
        if column.name in HIDDEN_COLUMNS:
            continue
        python = _python_type(table, column.name)
        fields[column.name] = (python | None, None) if column.nullable else (python, ...)
    model_name = "".join(part.title() for part in table.name.split("_")).rstrip("s")
    return create_model(model_name, __base__=ApiModel, **fields)


# Documented only where records have a status; elsewhere a status is refused (422), never ignored.
StatusFilter = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z_]+$")]
UndocumentedStatusFilter = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z_]+$", include_in_schema=False)]


def _add_route(table: Table, path: str, collection: str, summary: str) -> None:
    record_model = _record_model(table)
    fields: dict[str, Any] = {collection: (list[record_model], ...)}  # type: ignore[valid-type]
    list_model = create_model(f"{record_model.__name__}List", __base__=Page, **fields)

    def list_records(
        user_id: CurrentUser,
        engine: DatabaseEngine,
        integration_id: Annotated[uuid.UUID | None, Query(alias="integrationId")] = None,
        status: StatusFilter = None,
        updated_since: Annotated[IsoDateTime | None, Query(alias="updatedSince")] = None,
        limit: Annotated[int, Query(ge=1, le=500), DECIMAL_DIGITS] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000), DECIMAL_DIGITS] = 0,
    ) -> Any:
        conditions = [table.c.user_id == user_id]
        if integration_id is not None:
            conditions.append(table.c.integration_id == integration_id)
        if status is not None:
            if "status" not in table.c:
                raise InvalidInput(f"{table.name} records have no status to filter on")
            conditions.append(table.c.status == status)
        if updated_since is not None:
            conditions.append(table.c.provider_updated_at >= updated_since)
        order = [table.c.integration_id, table.c.id]
        rows, total = page_of_rows(engine, table, conditions, order, limit, offset)
        return list_model(**{collection: rows}, total=total, limit=limit, offset=offset)

    if "status" not in table.c:
        list_records.__annotations__["status"] = UndocumentedStatusFilter
    router.add_api_route(
        path,
        list_records,
        methods=["GET"],
        response_model=list_model,
        summary=summary,
        operation_id="list" + record_model.__name__ + "s",
        responses=documented_errors(401, 422, 429),
    )


_add_route(xero_invoices, "/xero/invoices", "invoices", "Xero invoices synced to your integrations")
_add_route(xero_contacts, "/xero/contacts", "contacts", "Xero contacts synced to your integrations")
_add_route(myob_invoices, "/myob/invoices", "invoices", "MYOB invoices synced to your integrations")
_add_route(quickbooks_invoices, "/quickbooks/invoices", "invoices", "QuickBooks invoices synced to your integrations")
_add_route(stripe_payments, "/stripe/payments", "payments", "Stripe charges synced to your integrations")
_add_route(stripe_subscriptions, "/stripe/subscriptions", "subscriptions", "Stripe subscriptions of your integrations")
_add_route(paypal_orders, "/paypal/orders", "orders", "PayPal checkout orders of your integrations")
