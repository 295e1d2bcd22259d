"""Xero-only control routes, under `/_sandbox/xero`.

GET   /limits                                      the API call budgets in force
PATCH /limits                                      {"per_minute": 100000} (and/or per_day, app_per_minute):
                                                   lift or lower them while running; calls already
                                                   counted stay counted. Reset restores the configured
                                                   ones (SANDBOX_XERO_*_LIMIT).
PATCH /tenants/{tenant_id}/contacts/{contact_id}   {"archived": true}: archive (or restore) a contact, as a
                                                   user would in Xero; it is stamped as changed
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Protocol

from fastapi import Request, Response

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.config import XeroLimits
from provider_sandbox.core.control_fields import ControlError, control_body
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.tenants import Tenant
from provider_sandbox.providers.xero.limits import XeroBudgets

MAX_BUDGET = 1_000_000_000
LIMIT_FIELDS = tuple(field.name for field in dataclasses.fields(XeroLimits))


class XeroControlApi(Protocol):
    """What the Xero control routes need from the simulator."""

    @property
    def clock(self) -> SandboxClock: ...

    @property
    def budgets(self) -> XeroBudgets: ...

    def tenant(self, tenant_id: str) -> Tenant | None: ...


class XeroControl:
    def __init__(self, api: XeroControlApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/limits", self.limits),
            Route("PATCH", "/limits", self.change_limits),
            Route("PATCH", "/tenants/{tenant_id}/contacts/{contact_id}", self.change_contact),
        ]

    async def limits(self) -> Response:
        return json_response(dataclasses.asdict(self.api.budgets.limits))

    async def change_limits(self, request: Request) -> Response:
        data = await control_body(request)
        unknown = sorted(set(data) - set(LIMIT_FIELDS))
        if unknown:
            raise ControlError(400, "invalid_field", f"unknown fields {unknown}; allowed: {list(LIMIT_FIELDS)}")
        for name, value in data.items():
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_BUDGET:
                raise ControlError(400, "invalid_field", f"{name} must be an integer between 1 and {MAX_BUDGET}")
        self.api.budgets.limits = dataclasses.replace(self.api.budgets.limits, **data)
        return await self.limits()

    async def change_contact(self, request: Request, tenant_id: str, contact_id: str) -> Response:
        tenant = self.api.tenant(tenant_id)
        if tenant is None:
            raise ControlError(404, "not_found", f"no xero tenant {tenant_id}")
        contact = next((c for c in tenant.contacts if c.key == contact_id.lower()), None)
        if contact is None:
            raise ControlError(404, "not_found", f"no contact {contact_id} in xero tenant {tenant_id}")
        archived = (await control_body(request)).get("archived")
        if not isinstance(archived, bool):
            raise ControlError(400, "invalid_field", "archived must be true or false")
        # Stamped after every existing change, as tenant mutations are: "modified since" must see it.
        stamp = max(self.api.clock.now(), tenant.latest_change() + timedelta(milliseconds=1))
        contact.archived, contact.updated_at, contact.version = archived, stamp, contact.version + 1
        return json_response({"contact_id": contact.key, "archived": contact.archived, "updated_at": stamp.isoformat()})
