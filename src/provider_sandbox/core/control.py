"""The control API under `/_sandbox/...`: how tests and the harness steer the simulators.

It is the only non-provider surface of the process. Bodies and answers are JSON; mistakes get a
400/404/409 with `{"error": ..., "detail": ...}` naming the field to fix.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.control_fields import ControlError, control_body, control_count
from provider_sandbox.core.faults import FaultSpecError
from provider_sandbox.core.framework import ProviderSimulator, Sandbox, json_response
from provider_sandbox.core.oauth import Client
from provider_sandbox.core.routing import HttpEndpoint, Route, mount
from provider_sandbox.core.tenants import Tenant

MAX_RECORDS_PER_TENANT = 200_000


def _count(data: dict[str, Any], name: str, default: int, limit: int = MAX_RECORDS_PER_TENANT) -> int:
    return control_count(data, name, default, limit)


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


class SandboxControl:
    """The generic control routes; `routes()` is their table (mounted under `/_sandbox`)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("GET", "/health", self.health),
            Route("POST", "/reset", self.reset),
            Route("GET", "/clock", self.clock),
            Route("POST", "/clock/advance", self.advance),
            Route("GET", "/clients", self.list_clients),
            Route("POST", "/clients", self.register_client),
            Route("GET", "/tenants", self.list_tenants),
            Route("POST", "/tenants", self.create_tenant),
            Route("PATCH", "/tenants/{provider_name}/{tenant_id}", self.resize_tenant),
            Route("POST", "/tenants/{provider_name}/{tenant_id}/mutations", self.mutate_tenant),
            Route("GET", "/faults", self.list_faults),
            Route("POST", "/faults", self.add_fault),
            Route("DELETE", "/faults", self.clear_faults),
            Route("DELETE", "/faults/{rule_id}", self.delete_fault),
            Route("GET", "/tokens", self.list_tokens),
            Route("POST", "/tokens/expire", self.expire_tokens),
            Route("POST", "/tokens/revoke", self.revoke_tokens),
            Route("GET", "/requests", self.list_requests),
            Route("DELETE", "/requests", self.clear_requests),
        ]

    def provider_of(self, name: Any) -> ProviderSimulator:
        if name not in self.sandbox.providers:
            raise ControlError(400, "invalid_field", f"provider must be one of {sorted(self.sandbox.providers)}")
        return self.sandbox.providers[name]

    def tenant_of(self, provider_name: str, tenant_id: str) -> tuple[ProviderSimulator, Tenant]:
        provider = self.provider_of(provider_name)
        tenant = provider.tenant(tenant_id)
        if tenant is None:
            raise ControlError(404, "not_found", f"no {provider_name} tenant {tenant_id}")
        return provider, tenant

    async def health(self) -> Response:
        return json_response({"status": "ok", "providers": sorted(self.sandbox.providers)})

    async def reset(self) -> Response:
        self.sandbox.reset()
        return json_response({"status": "reset"})

    async def clock(self) -> Response:
        return json_response(
            {"now": self.sandbox.clock.now().isoformat(), "offset_seconds": self.sandbox.clock.offset_seconds}
        )

    async def advance(self, request: Request) -> Response:
        seconds = (await control_body(request)).get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ControlError(400, "invalid_field", "seconds must be a non-negative number")
        now = self.sandbox.clock.advance(float(seconds))
        return json_response({"now": now.isoformat(), "offset_seconds": self.sandbox.clock.offset_seconds})

    async def list_clients(self, provider: str | None = None) -> Response:
        return json_response(
            [
                {
                    "provider": c.provider,
                    "client_id": c.client_id,
                    "redirect_uris": list(c.redirect_uris),
                    "app_name": c.app_name,
                }
                for c in self.sandbox.oauth.clients.values()
                if provider in (None, c.provider)
            ]
        )

    async def register_client(self, request: Request) -> Response:
        data = await control_body(request)
        provider = self.provider_of(data.get("provider"))
        client_id, secret = data.get("client_id"), data.get("client_secret")
        redirects = data.get("redirect_uris", [])
        if not isinstance(client_id, str) or not client_id or not isinstance(secret, str) or not secret:
            raise ControlError(400, "invalid_field", "client_id and client_secret must be non-empty strings")
        if not isinstance(redirects, list) or not all(isinstance(uri, str) for uri in redirects):
            raise ControlError(400, "invalid_field", "redirect_uris must be a list of strings")
        if provider.client_of(client_id) is not None:
            raise ControlError(409, "conflict", f"{provider.name} client {client_id} already exists")
        self.sandbox.oauth.register_client(
            Client(
                provider.name,
                client_id,
                secret,
                tuple(redirects),
                str(data.get("app_name", "Sandbox Registered App")),
            )
        )
        return json_response({"provider": provider.name, "client_id": client_id, "redirect_uris": redirects}, 201)

    async def list_tenants(self, provider: str | None = None) -> Response:
        return json_response(
            [
                tenant_json(self.sandbox.providers[t.provider], t)
                for t in self.sandbox.tenants.all()
                if provider in (None, t.provider)
            ]
        )

    async def create_tenant(self, request: Request) -> Response:
        data = await control_body(request)
        provider = self.provider_of(data.get("provider"))
        label = self.sandbox.next_tenant_label()
        name = str(data.get("name") or f"Sandbox {provider.name} tenant {label}")
        tenant = provider.create_tenant(
            label,
            name,
            _count(data, "invoices", self.sandbox.config.invoices_per_tenant),
            _count(data, "contacts", self.sandbox.config.contacts_per_tenant),
        )
        return json_response(tenant_json(provider, tenant), 201)

    async def resize_tenant(self, request: Request, provider_name: str, tenant_id: str) -> Response:
        provider, tenant = self.tenant_of(provider_name, tenant_id)
        data = await control_body(request)
        tenant.resize(_count(data, "invoices", len(tenant.invoices)), _count(data, "contacts", len(tenant.contacts)))
        return json_response(tenant_json(provider, tenant))

    async def mutate_tenant(self, request: Request, provider_name: str, tenant_id: str) -> Response:
        provider, tenant = self.tenant_of(provider_name, tenant_id)
        data = await control_body(request)
        modify = _count(data, "modify", 0, len(tenant.invoices))
        change = tenant.mutate(
            self.sandbox.clock.now(),
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

    async def list_faults(self) -> Response:
        return json_response([rule.to_json() for rule in self.sandbox.faults.list()])

    async def add_fault(self, request: Request) -> Response:
        try:
            rule = self.sandbox.faults.add(await control_body(request), tuple(self.sandbox.providers))
        except FaultSpecError as error:
            raise ControlError(400, "invalid_fault", str(error)) from None
        return json_response(rule.to_json(), 201)

    async def clear_faults(self) -> Response:
        self.sandbox.faults.clear()
        return Response(status_code=204)

    async def delete_fault(self, rule_id: int) -> Response:
        if not self.sandbox.faults.delete(rule_id):
            raise ControlError(404, "not_found", f"no fault rule {rule_id}")
        return Response(status_code=204)

    async def list_tokens(self, provider: str | None = None) -> Response:
        return json_response(self.sandbox.oauth.describe(provider))

    async def _token_target(self, request: Request) -> tuple[str | None, str | None, str | None]:
        """(token, provider, tenant id): a token by value, or a provider's tokens (of one tenant, if given)."""
        data = await control_body(request)
        token, provider, tenant_id = data.get("token"), data.get("provider"), data.get("tenant_id")
        if token is None and provider is None:
            raise ControlError(400, "invalid_field", "give a token value or a provider")
        if token is not None and not isinstance(token, str):
            raise ControlError(400, "invalid_field", "token must be a string")
        if tenant_id is not None and (provider is None or not isinstance(tenant_id, str)):
            raise ControlError(400, "invalid_field", "tenant_id must be a string, given with its provider")
        if provider is not None:
            self.provider_of(provider)
        return token, provider, tenant_id

    async def expire_tokens(self, request: Request) -> Response:
        return json_response({"expired": self.sandbox.oauth.expire(*await self._token_target(request))})

    async def revoke_tokens(self, request: Request) -> Response:
        return json_response({"revoked_grants": self.sandbox.oauth.revoke(*await self._token_target(request))})

    async def list_requests(
        self, provider: str | None = None, path_contains: str | None = None, since_seq: int = 0
    ) -> Response:
        return json_response(self.sandbox.recorder.list(provider, path_contains, since_seq))

    async def clear_requests(self) -> Response:
        self.sandbox.recorder.clear()
        return Response(status_code=204)


def build_control_router(sandbox: Sandbox) -> APIRouter:
    return mount(APIRouter(), SandboxControl(sandbox).routes())
