"""The generic part of the sandbox: shared state and the contract every provider module fulfils.

Each provider package (providers/xero, myob, quickbooks, stripe, paypal, billionmail, mautic) has a
`simulator.py` that subclasses `ProviderSimulator`: it names its URL prefix, its tenant id scheme
and token lifetimes, serves its routes, and renders errors, rate limits and faults in *its own*
wire format. Everything else -- OAuth bookkeeping, fault rules, request recording, tenants, the
clock -- lives here and in the core modules it wires together, so a new provider stays small.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.config import SandboxConfig
from provider_sandbox.core.faults import FaultInjector, FaultRule
from provider_sandbox.core.oauth import BearerCheck, Client, OAuthProfile, OAuthServer
from provider_sandbox.core.recorder import RequestRecorder
from provider_sandbox.core.seed import Contact, Invoice
from provider_sandbox.core.tenants import Tenant, TenantSpec, TenantStore


class ProviderSimulator(ABC):
    name: ClassVar[str]
    tenant_spec: ClassVar[TenantSpec]
    oauth_profile: ClassVar[OAuthProfile | None] = None  # None for API-key providers
    tenant_names: ClassVar[tuple[str, str]]  # default and secondary tenant names

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def prefix(self) -> str:
        return f"/{self.name}"

    @abstractmethod
    def router(self) -> APIRouter:
        """Routes relative to `prefix`, with the provider's real paths under per-host prefixes."""

    @abstractmethod
    def error_response(self, status: int, message: str) -> Response:
        """A generic error (404, 5xx, injected `error` fault) in the provider's own shape."""

    @abstractmethod
    def rate_limit_response(self, rule: FaultRule) -> Response:
        """How the provider signals throttling (status, headers, body)."""

    def reset(self) -> None:
        """(Re)seed this provider's state; called on start and by `POST /_sandbox/reset`.

        The default gives every provider a default and a secondary tenant of generic records.
        Providers whose data is not invoices/contacts (Stripe, PayPal) override it.
        """
        default_name, secondary_name = self.tenant_names
        config = self.sandbox.config
        self.create_tenant("default", default_name, config.invoices_per_tenant, config.contacts_per_tenant)
        self.create_tenant("secondary", secondary_name, config.secondary_invoices, config.secondary_contacts)

    def control_router(self) -> APIRouter | None:
        """Provider-specific control routes, mounted under `/_sandbox/<name>` (None: none)."""
        return None

    def page_number(self, request: Request) -> int | None:
        """Which page of a listing this request asks for, so faults can target page k."""
        return None

    def malformed_response(self) -> Response:
        """A 200 whose JSON body is cut off mid-way, as a dropped proxy connection produces."""
        return Response(content=b'{"truncated": [', media_type="application/json")

    def fault_response(self, rule: FaultRule) -> Response:
        if rule.kind == "rate_limit":
            return self.rate_limit_response(rule)
        if rule.kind == "malformed":
            return self.malformed_response()
        return self.error_response(rule.status, rule.message or "Injected fault from the provider sandbox")

    def invoice_id(self, invoice: Invoice) -> str:
        """The id this provider shows for an invoice (GUID by default; QuickBooks uses numbers)."""
        return invoice.key

    def contact_id(self, contact: Contact) -> str:
        return contact.key

    # --- helpers shared by provider routes ------------------------------------------------------

    def check_bearer(self, request: Request) -> BearerCheck:
        return self.sandbox.oauth.check_bearer(self.name, request.headers.get("authorization"))

    def client_of(self, client_id: str) -> Client | None:
        return self.sandbox.oauth.client(self.name, client_id)

    @property
    def oauth(self) -> OAuthServer:
        return self.sandbox.oauth

    @property
    def clock(self) -> SandboxClock:
        return self.sandbox.clock

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.sandbox.tenants.get(self.name, tenant_id)

    def default_tenant(self) -> Tenant | None:
        return self.sandbox.tenants.default(self.name)

    def create_tenant(self, label: str, name: str, invoices: int, contacts: int) -> Tenant:
        return self.sandbox.tenants.create(
            self.name, self.tenant_spec, label, name, self.sandbox.clock.now(), invoices, contacts
        )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON like the providers send (FastAPI's JSONResponse would also do, minus control)."""
    return Response(
        content=json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


class Sandbox:
    """All mutable state of one sandbox process; `reset()` returns it to the seeded start."""

    def __init__(self, config: SandboxConfig, simulators: Sequence[type[ProviderSimulator]]) -> None:
        self.config = config
        self.providers: dict[str, ProviderSimulator] = {cls.name: cls(self) for cls in simulators}
        self.clock = SandboxClock()
        self.oauth = OAuthServer(self.clock, {})
        self.faults = FaultInjector()
        self.recorder = RequestRecorder(config.max_recorded_requests)
        self.tenants = TenantStore()
        self._tenant_labels = 0
        self.reset()

    def reset(self) -> None:
        self.clock = SandboxClock()
        profiles = {p.name: p.oauth_profile for p in self.providers.values() if p.oauth_profile is not None}
        self.oauth = OAuthServer(self.clock, profiles)
        for client in self.config.clients:
            if client.provider in self.providers:
                self.oauth.register_client(
                    Client(
                        client.provider,
                        client.client_id,
                        client.client_secret,
                        client.redirect_uris,
                        client.app_name,
                    )
                )
        self.faults = FaultInjector()
        self.recorder = RequestRecorder(self.config.max_recorded_requests)
        self.tenants = TenantStore()
        self._tenant_labels = 0
        for provider in self.providers.values():
            provider.reset()

    def next_tenant_label(self) -> str:
        self._tenant_labels += 1
        return f"created-{self._tenant_labels}"

    def provider_for_path(self, path: str) -> ProviderSimulator | None:
        for provider in self.providers.values():
            if path == provider.prefix or path.startswith(provider.prefix + "/"):
                return provider
        return None
