"""Control routes under /_sandbox/billionmail: instances, their size and key, and task state.

`{tenant_id}` may be `default` for the default instance. API keys are shown only when they are
made (rotation), like BillionMail's own "copy it now" key dialog; listings show a hint and hash.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from fastapi import Request, Response

from provider_sandbox.core.control_fields import ControlError, control_body, control_count, control_int
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.hints import fingerprint, hint
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.core.tenants import Tenant
from provider_sandbox.providers.billionmail.store import BillionMailInstance


class BillionMailInstances(Protocol):
    """What the BillionMail control routes need from the simulator."""

    @property
    def instances(self) -> dict[str, BillionMailInstance]: ...

    def default_tenant(self) -> Tenant | None: ...

    def now(self) -> int: ...


class BillionMailControl:
    """Instances, their size and key, and task state; `routes()` is their table."""

    def __init__(self, api: BillionMailInstances) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/instances", self.list_instances),
            Route("PATCH", "/instances/{tenant_id}", self.grow),
            Route("POST", "/instances/{tenant_id}/key", self.rotate_key),
            Route("GET", "/instances/{tenant_id}/tasks/{task_id}", self.task_state),
        ]

    def instance_of(self, tenant_id: str) -> BillionMailInstance:
        if tenant_id == "default":
            default = self.api.default_tenant()
            tenant_id = default.tenant_id if default else ""
        instance = self.api.instances.get(tenant_id)
        if instance is None:
            raise ControlError(404, "not_found", f"no billionmail instance {tenant_id}")
        return instance

    def describe(self, instance: BillionMailInstance) -> dict[str, Any]:
        default = self.api.default_tenant()
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

    async def list_instances(self) -> Response:
        return json_response([self.describe(i) for i in self.api.instances.values()])

    async def grow(self, request: Request, tenant_id: str) -> Response:
        """Grow the seeded tasks/contacts, e.g. `{"tasks": 1200}`; shrinking is refused."""
        instance = self.instance_of(tenant_id)
        data = await control_body(request)
        tasks = control_count(data, "tasks", instance.seeded_tasks)
        contacts = control_count(data, "contacts", instance.seeded_contacts)
        if tasks < instance.seeded_tasks or contacts < instance.seeded_contacts:
            raise ControlError(409, "conflict", "billionmail instances only grow (ids are never reused)")
        instance.grow(tasks, contacts)
        return json_response(self.describe(instance))

    async def rotate_key(self, tenant_id: str) -> Response:
        """A new API key; the old one stops working at once (the "revoked key" case)."""
        instance = self.instance_of(tenant_id)
        instance.api_key = f"bm-{secrets.token_urlsafe(24)}"
        return json_response({"tenant_id": instance.tenant_id, "api_key": instance.api_key}, 201)

    async def task_state(self, tenant_id: str, task_id: str) -> Response:
        instance = self.instance_of(tenant_id)
        instance.run_due(self.api.now())
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
