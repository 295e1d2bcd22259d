"""What the PayPal action routes (api/paypal.py, api/paypal_orders.py) share: the documented errors, the
integration's PayPal client, storing what an action learnt, and reading a link out of PayPal's answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, select

from integration_service.api.errors import ErrorResponse, documented_errors
from integration_service.api.owned import CallersIntegrations, Owned
from integration_service.api.provider_errors import PAYPAL, ProviderFailed, reported_as
from integration_service.db import paypal_rows
from integration_service.providers.paypal import PayPal
from integration_service.providers.paypal_client import PayPalClient

ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **documented_errors(400, 401, 404, 409, 413, 422, 429, 503),
    502: {"model": ErrorResponse, "description": "PayPal failed, or refused the integration's credentials"},
}


def client_for(owned: Owned[PayPal], integrations: CallersIntegrations) -> PayPalClient:
    with reported_as(PAYPAL):
        client: PayPalClient = integrations.services.sync_engine.api_for(owned.provider, owned.linked)
    return client


def store(
    integrations: CallersIntegrations, lifecycle: paypal_rows.Lifecycle, owned: Owned[PayPal], row: dict[str, Any]
) -> RowMapping:
    """Upsert the row (merged: never older than what is stored) and return it as stored."""
    table, integration_id = lifecycle.table, owned.row["id"]
    with integrations.services.engine.begin() as connection:
        paypal_rows.save(connection, lifecycle, integration_id, integrations.user_id, row)
        return (
            connection.execute(
                select(table).where(
                    table.c.integration_id == integration_id, table.c[lifecycle.key] == row[lifecycle.key]
                )
            )
            .mappings()
            .one()
        )


def link_of(obj: Any, *rels: str) -> str:
    """The href of the first link with one of `rels`; ProviderFailed (502) when PayPal sent none."""
    for item in obj.get("links") or [] if isinstance(obj, dict) else []:
        if isinstance(item, dict) and item.get("rel") in rels:
            return str(item["href"])
    raise ProviderFailed(f"PayPal's answer has no {' or '.join(rels)} link")
