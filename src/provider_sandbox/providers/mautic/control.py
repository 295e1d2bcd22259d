"""Control routes under /_sandbox/mautic: instances, their size, campaign and segment state.

`{tenant_id}` may be `default`. Tokens are managed by the generic `/_sandbox/tokens` routes
(`?provider=mautic`), since Mautic uses the shared OAuth server.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.control_fields import ControlError, control_body, control_count, control_int
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.tenants import Tenant
from provider_sandbox.providers.mautic.store import MauticInstance


class MauticInstances(Protocol):
    """What the Mautic control routes need from the simulator."""

    @property
    def instances(self) -> dict[str, MauticInstance]: ...

    def default_tenant(self) -> Tenant | None: ...


class MauticControl:
    """Instances, their size, campaign and segment state; `routes()` is their table."""

    def __init__(self, api: MauticInstances) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/instances", self.list_instances),
            Route("PATCH", "/instances/{tenant_id}", self.grow),
            Route("GET", "/instances/{tenant_id}/campaigns/{campaign_id}", self.campaign_state),
            Route("GET", "/instances/{tenant_id}/segments/{segment_id}", self.segment_state),
        ]

    def instance_of(self, tenant_id: str) -> MauticInstance:
        if tenant_id == "default":
            default = self.api.default_tenant()
            tenant_id = default.tenant_id if default else ""
        instance = self.api.instances.get(tenant_id)
        if instance is None:
            raise ControlError(404, "not_found", f"no mautic instance {tenant_id}")
        return instance

    def describe(self, instance: MauticInstance) -> dict[str, Any]:
        default = self.api.default_tenant()
        return {
            "tenant_id": instance.tenant_id,
            "default": default is not None and default.tenant_id == instance.tenant_id,
            "campaigns": len(instance.campaigns),
            "published_campaigns": sum(c.is_published for c in instance.campaigns.values()),
            "seeded_campaigns": instance.seeded_campaigns,
            "segments": len(instance.segments),
            "contacts": len(instance.contacts),
        }

    async def list_instances(self) -> Response:
        return json_response([self.describe(i) for i in self.api.instances.values()])

    async def grow(self, request: Request, tenant_id: str) -> Response:
        """Grow seeded campaigns/contacts, e.g. `{"campaigns": 1200}`; shrinking is refused."""
        instance = self.instance_of(tenant_id)
        data = await control_body(request)
        campaigns = control_count(data, "campaigns", instance.seeded_campaigns)
        contacts = control_count(data, "contacts", len(instance.contacts))
        if campaigns < instance.seeded_campaigns or contacts < len(instance.contacts):
            raise ControlError(409, "conflict", "mautic instances only grow (ids are never reused)")
        instance.grow(campaigns, contacts)
        return json_response(self.describe(instance))

    async def campaign_state(self, tenant_id: str, campaign_id: str) -> Response:
        instance = self.instance_of(tenant_id)
        campaign = instance.campaigns.get(control_int(campaign_id, "campaign_id"))
        if campaign is None:
            raise ControlError(404, "not_found", f"no campaign {campaign_id}")
        return json_response(instance.campaign_json(campaign))

    async def segment_state(self, tenant_id: str, segment_id: str) -> Response:
        instance = self.instance_of(tenant_id)
        number = control_int(segment_id, "segment_id")
        if number not in instance.segments:
            raise ControlError(404, "not_found", f"no segment {segment_id}")
        members = list(instance.members[number])
        return json_response(
            {
                **instance.segment_json(instance.segments[number]),
                "contact_ids": members,
                "emails": [instance.contacts[cid].email for cid in members],
            }
        )
