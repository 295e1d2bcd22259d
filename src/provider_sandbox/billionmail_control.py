"""Control routes under /_sandbox/billionmail: instances, their size and key, and task state.

`{tenant_id}` may be `default` for the default instance. API keys are shown only when they are
made (rotation), like BillionMail's own "copy it now" key dialog; listings show a hint and hash.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request, Response

from provider_sandbox.billionmail_state import BillionMailState
from provider_sandbox.billionmail_store import BillionMailInstance
from provider_sandbox.core.control_fields import ControlError, control_body, control_count, control_int
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.oauth import fingerprint, hint


def build_billionmail_control(simulator: BillionMailState) -> APIRouter:
    router = APIRouter()

    def instance_of(tenant_id: str) -> BillionMailInstance:
        if tenant_id == "default":
            default = simulator.sandbox.tenants.default(simulator.name)
            tenant_id = default.tenant_id if default else ""
        instance = simulator.instances.get(tenant_id)
        if instance is None:
            raise ControlError(404, "not_found", f"no billionmail instance {tenant_id}")
        return instance

    def describe(instance: BillionMailInstance) -> dict[str, Any]:
        default = simulator.sandbox.tenants.default(simulator.name)
        return {
            "tenant_id": instance.tenant_id,
            "default": default is not None and default.tenant_id == instance.tenant_id,
            "api_key_hint": hint(instance.api_key),
            "api_key_sha256": fingerprint(instance.api_key),
            "tasks": len(instance.tasks),
            "seeded_tasks": instance.seeded_tasks,
            "groups": len(instance.groups),
            "contact_rows": len(instance.rows),
            "distinct_contacts": len({r.email for r in instance.rows}),
        }

    @router.get("/instances")
    async def list_instances() -> Response:
        return json_response([describe(i) for i in simulator.instances.values()])

    @router.patch("/instances/{tenant_id}")
    async def grow(request: Request, tenant_id: str) -> Response:
        """Grow the seeded tasks/contacts, e.g. `{"tasks": 1200}`; shrinking is refused."""
        instance = instance_of(tenant_id)
        data = await control_body(request)
        tasks = control_count(data, "tasks", instance.seeded_tasks)
        contacts = control_count(data, "contacts", instance.seeded_contacts)
        if tasks < instance.seeded_tasks or contacts < instance.seeded_contacts:
            raise ControlError(409, "conflict", "billionmail instances only grow (ids are never reused)")
        instance.grow(tasks, contacts)
        return json_response(describe(instance))

    @router.post("/instances/{tenant_id}/key")
    async def rotate_key(tenant_id: str) -> Response:
        """A new API key; the old one stops working at once (the "revoked key" case)."""
        instance = instance_of(tenant_id)
        instance.api_key = f"bm-{secrets.token_urlsafe(24)}"
        return json_response({"tenant_id": instance.tenant_id, "api_key": instance.api_key}, 201)

    @router.get("/instances/{tenant_id}/tasks/{task_id}")
    async def task_state(tenant_id: str, task_id: str) -> Response:
        instance = instance_of(tenant_id)
        instance.run_due(simulator.now())
        task = instance.tasks.get(control_int(task_id, "task_id"))
        if task is None:
            raise ControlError(404, "not_found", f"no task {task_id} in instance {instance.tenant_id}")
        return json_response(
            {
                "id": task.id,
                "subject": task.subject,
                "group_ids": task.group_ids,
                "task_process": task.task_process,
                "pause": task.pause,
                "start_time": task.start_time,
                "recipient_count": len(task.recipients),
                "recipients": task.recipients,
                "sent_count": task.sent,
            }
        )

    return router
