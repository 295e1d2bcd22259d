"""Control routes under /_sandbox/mautic: instances, their size, campaign and segment state.

`{tenant_id}` may be `default`. Tokens are managed by the generic `/_sandbox/tokens` routes
(`?provider=mautic`), since Mautic uses the shared OAuth server.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.control_fields import ControlError, control_body, control_count, control_int
from provider_sandbox.core.framework import json_response
from provider_sandbox.mautic_state import MauticState
from provider_sandbox.mautic_store import MauticInstance


def build_mautic_control(simulator: MauticState) -> APIRouter:
    router = APIRouter()

    def instance_of(tenant_id: str) -> MauticInstance:
        if tenant_id == "default":
            default = simulator.sandbox.tenants.default(simulator.name)
            tenant_id = default.tenant_id if default else ""
        instance = simulator.instances.get(tenant_id)
        if instance is None:
            raise ControlError(404, "not_found", f"no mautic instance {tenant_id}")
        return instance

    def describe(instance: MauticInstance) -> dict[str, Any]:
        default = simulator.sandbox.tenants.default(simulator.name)
        return {
            "tenant_id": instance.tenant_id,
            "default": default is not None and default.tenant_id == instance.tenant_id,
            "campaigns": len(instance.campaigns),
            "published_campaigns": sum(c.is_published for c in instance.campaigns.values()),
            "seeded_campaigns": instance.seeded_campaigns,
            "segments": len(instance.segments),
            "contacts": len(instance.contacts),
        }

    @router.get("/instances")
    async def list_instances() -> Response:
        return json_response([describe(i) for i in simulator.instances.values()])

    @router.patch("/instances/{tenant_id}")
    async def grow(request: Request, tenant_id: str) -> Response:
        """Grow seeded campaigns/contacts, e.g. `{"campaigns": 1200}`; shrinking is refused."""
        instance = instance_of(tenant_id)
        data = await control_body(request)
        campaigns = control_count(data, "campaigns", instance.seeded_campaigns)
        contacts = control_count(data, "contacts", len(instance.contacts))
        if campaigns < instance.seeded_campaigns or contacts < len(instance.contacts):
            raise ControlError(409, "conflict", "mautic instances only grow (ids are never reused)")
        instance.grow(campaigns, contacts)
        return json_response(describe(instance))

    @router.get("/instances/{tenant_id}/campaigns/{campaign_id}")
    async def campaign_state(tenant_id: str, campaign_id: str) -> Response:
        instance = instance_of(tenant_id)
        campaign = instance.campaigns.get(control_int(campaign_id, "campaign_id"))
        if campaign is None:
            raise ControlError(404, "not_found", f"no campaign {campaign_id}")
        return json_response(instance.campaign_json(campaign))

    @router.get("/instances/{tenant_id}/segments/{segment_id}")
    async def segment_state(tenant_id: str, segment_id: str) -> Response:
        instance = instance_of(tenant_id)
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

    return router
