"""The control API under `/_sandbox/...`: how tests and the harness steer the simulators.

It is the only non-provider surface of the process. Bodies and answers are JSON; mistakes get a
400/404/409 with `{"error": ..., "detail": ...}` naming the field to fix.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from provider_sandbox.faults import FaultSpecError
from provider_sandbox.framework import ProviderSimulator, Sandbox, json_response
from provider_sandbox.oauth import Client
from provider_sandbox.tenants import Tenant

MAX_RECORDS_PER_TENANT = 200_000


class ControlError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail

    def response(self) -> Response:
        return json_response({"error": self.error, "detail": self.detail}, self.status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ControlError(400, "invalid_json", f"request body is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "invalid_json", "request body must be a JSON object")
    return data


# Provider control routers (webhook_control, stripe_control, ...) parse bodies the same way.
read_json_body = _body


def _count(data: dict[str, Any], name: str, default: int, limit: int = MAX_RECORDS_PER_TENANT) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ControlError(400, "invalid_field", f"{name} must be an integer between 0 and {limit}")
    return value


def tenant_json(provider: ProviderSimulator, tenant: Tenant) -> dict[str, Any]:
    default = provider.sandbox.tenants.default(provider.name)
    return {
        "provider": tenant.provider,
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "invoices": len(tenant.invoices),
        "contacts": len(tenant.contacts),
        "default": default is not None and default.tenant_id == tenant.tenant_id,
    }


def build_control_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()

    def provider_of(name: Any) -> ProviderSimulator:
        if name not in sandbox.providers:
            raise ControlError(400, "invalid_field", f"provider must be one of {sorted(sandbox.providers)}")
        return sandbox.providers[name]

    def tenant_of(provider_name: str, tenant_id: str) -> tuple[ProviderSimulator, Tenant]:
        provider = provider_of(provider_name)
        tenant = provider.tenant(tenant_id)
        if tenant is None:
            raise ControlError(404, "not_found", f"no {provider_name} tenant {tenant_id}")
        return provider, tenant

    @router.get("/health")
    async def health() -> Response:
        return json_response({"status": "ok", "providers": sorted(sandbox.providers)})

    @router.post("/reset")
    async def reset() -> Response:
        sandbox.reset()
        return json_response({"status": "reset"})

    @router.get("/clock")
    async def clock() -> Response:
        return json_response({"now": sandbox.clock.now().isoformat(), "offset_seconds": sandbox.clock.offset_seconds})

    @router.post("/clock/advance")
    async def advance(request: Request) -> Response:
        seconds = (await _body(request)).get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ControlError(400, "invalid_field", "seconds must be a non-negative number")
        now = sandbox.clock.advance(float(seconds))
        return json_response({"now": now.isoformat(), "offset_seconds": sandbox.clock.offset_seconds})

    @router.get("/clients")
    async def list_clients(provider: str | None = None) -> Response:
        return json_response(
            [
                {
                    "provider": c.provider,
                    "client_id": c.client_id,
                    "redirect_uris": list(c.redirect_uris),
                    "app_name": c.app_name,
                }
                for c in sandbox.oauth.clients.values()
                if provider in (None, c.provider)
            ]
        )

    @router.post("/clients")
    async def register_client(request: Request) -> Response:
        data = await _body(request)
        provider = provider_of(data.get("provider"))
        client_id, secret = data.get("client_id"), data.get("client_secret")
        redirects = data.get("redirect_uris", [])
        if not isinstance(client_id, str) or not client_id or not isinstance(secret, str) or not secret:
            raise ControlError(400, "invalid_field", "client_id and client_secret must be non-empty strings")
        if not isinstance(redirects, list) or not all(isinstance(uri, str) for uri in redirects):
            raise ControlError(400, "invalid_field", "redirect_uris must be a list of strings")
        if provider.client_of(client_id) is not None:
            raise ControlError(409, "conflict", f"{provider.name} client {client_id} already exists")
        sandbox.oauth.register_client(
            Client(
                provider.name,
                client_id,
                secret,
                tuple(redirects),
                str(data.get("app_name", "Sandbox Registered App")),
            )
        )
        return json_response({"provider": provider.name, "client_id": client_id, "redirect_uris": redirects}, 201)

    @router.get("/tenants")
    async def list_tenants(provider: str | None = None) -> Response:
        return json_response(
            [
                tenant_json(sandbox.providers[t.provider], t)
                for t in sandbox.tenants.all()
                if provider in (None, t.provider)
            ]
        )

    @router.post("/tenants")
    async def create_tenant(request: Request) -> Response:
        data = await _body(request)
        provider = provider_of(data.get("provider"))
        label = sandbox.next_tenant_label()
        name = str(data.get("name") or f"Sandbox {provider.name} tenant {label}")
        tenant = provider.create_tenant(
            label,
            name,
            _count(data, "invoices", sandbox.config.invoices_per_tenant),
            _count(data, "contacts", sandbox.config.contacts_per_tenant),
        )
        return json_response(tenant_json(provider, tenant), 201)

    @router.patch("/tenants/{provider_name}/{tenant_id}")
    async def resize_tenant(request: Request, provider_name: str, tenant_id: str) -> Response:
        provider, tenant = tenant_of(provider_name, tenant_id)
        data = await _body(request)
        tenant.resize(_count(data, "invoices", len(tenant.invoices)), _count(data, "contacts", len(tenant.contacts)))
        return json_response(tenant_json(provider, tenant))

    @router.post("/tenants/{provider_name}/{tenant_id}/mutations")
    async def mutate_tenant(request: Request, provider_name: str, tenant_id: str) -> Response:
        provider, tenant = tenant_of(provider_name, tenant_id)
        data = await _body(request)
        modify = _count(data, "modify", 0, len(tenant.invoices))
        change = tenant.mutate(
            sandbox.clock.now(),
            modify,
            _count(data, "add", 0),
            _count(data, "modify_contacts", 0, len(tenant.contacts)),
        )
        return json_response(
            {
                "updated_at": change.stamp.isoformat(),
                "modified_ids": [provider.invoice_id(inv) for inv in change.modified],
                "added_ids": [provider.invoice_id(inv) for inv in change.added],
                "modified_contact_ids": [provider.contact_id(c) for c in change.contacts],
                "invoices": len(tenant.invoices),
            }
        )

    @router.get("/faults")
    async def list_faults() -> Response:
        return json_response([rule.to_json() for rule in sandbox.faults.list()])

    @router.post("/faults")
    async def add_fault(request: Request) -> Response:
        try:
            rule = sandbox.faults.add(await _body(request), tuple(sandbox.providers))
        except FaultSpecError as error:
            raise ControlError(400, "invalid_fault", str(error)) from None
        return json_response(rule.to_json(), 201)

    @router.delete("/faults")
    async def clear_faults() -> Response:
        sandbox.faults.clear()
        return Response(status_code=204)

    @router.delete("/faults/{rule_id}")
    async def delete_fault(rule_id: int) -> Response:
        if not sandbox.faults.delete(rule_id):
            raise ControlError(404, "not_found", f"no fault rule {rule_id}")
        return Response(status_code=204)

    @router.get("/tokens")
    async def list_tokens(provider: str | None = None) -> Response:
        return json_response(sandbox.oauth.describe(provider))

    async def _token_target(request: Request) -> tuple[str | None, str | None, str | None]:
        """(token, provider, tenant id): a token by value, or a provider's tokens (of one tenant, if given)."""
        data = await _body(request)
        token, provider, tenant_id = data.get("token"), data.get("provider"), data.get("tenant_id")
        if token is None and provider is None:
            raise ControlError(400, "invalid_field", "give a token value or a provider")
        if token is not None and not isinstance(token, str):
            raise ControlError(400, "invalid_field", "token must be a string")
        if tenant_id is not None and (provider is None or not isinstance(tenant_id, str)):
            raise ControlError(400, "invalid_field", "tenant_id must be a string, given with its provider")
        if provider is not None:
            provider_of(provider)
        return token, provider, tenant_id

    @router.post("/tokens/expire")
    async def expire_tokens(request: Request) -> Response:
        return json_response({"expired": sandbox.oauth.expire(*await _token_target(request))})

    @router.post("/tokens/revoke")
    async def revoke_tokens(request: Request) -> Response:
        return json_response({"revoked_grants": sandbox.oauth.revoke(*await _token_target(request))})

    @router.get("/requests")
    async def list_requests(
        provider: str | None = None, path_contains: str | None = None, since_seq: int = 0
    ) -> Response:
        return json_response(sandbox.recorder.list(provider, path_contains, since_seq))

    @router.delete("/requests")
    async def clear_requests() -> Response:
        sandbox.recorder.clear()
        return Response(status_code=204)

    return router
