"""BillionMail simulator: the self-hosted mail-marketing server's management API.

Sandbox path                           Real URL (self-hosted: the instance's own host)
/billionmail/api/current-user          https://<your-billionmail>/api/current-user   (connection test)
/billionmail/api/batch_mail/task/...   https://<your-billionmail>/api/batch_mail/task/...
/billionmail/api/contact/...           https://<your-billionmail>/api/contact/...
/billionmail/api/email_template/list   https://<your-billionmail>/api/email_template/list
/billionmail/api/mailbox/all           https://<your-billionmail>/api/mailbox/all

Written from aaPanel/BillionMail's Go source (core/api/*/v1 request structs, rbac/jwt.go,
middlewares/HandleApiResponse.go, public.CodeMap):
- Authentication: `Authorization: Bearer <API token>` (the JWT middleware trims "Bearer "; the API
  token is made in Settings -> API). The documented `X-API-Key` header belongs to the separate
  send-one-email API (/api/batch_mail/api/send) and is NOT accepted here, as in the real server.
- EVERY answer is HTTP 200 with `{"success", "code", "msg", "data"}`; failures only show in the
  body: 401 "no authorization" / "" (bad token), 412 parameter errors, 404, 500. Success is code 0.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator
from provider_sandbox.core.routing import mount
from provider_sandbox.core.tenants import Tenant, TenantSpec, stable_uuid
from provider_sandbox.providers.billionmail.control import BillionMailControl
from provider_sandbox.providers.billionmail.routes import ROUTES, BillionMailRoutes
from provider_sandbox.providers.billionmail.store import BillionMailInstance
from provider_sandbox.providers.billionmail.wire import CODE_MESSAGES, BillionMailError, failure


class BillionMailSimulator(ProviderSimulator):
    name = "billionmail"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="USD", country="US")
    tenant_names: ClassVar[tuple[str, str]] = ("BillionMail (default instance)", "BillionMail (second instance)")

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.instances: dict[str, BillionMailInstance] = {}

    # --- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        self.instances = {}
        self.create_tenant("default", self.tenant_names[0], 0, 0)
        self.create_tenant("secondary", self.tenant_names[1], 0, 0)

    def create_tenant(self, label: str, name: str, invoices: int, contacts: int) -> Tenant:
        """A tenant is one BillionMail instance with its own API key; it has no invoices."""
        tenant = super().create_tenant(label, name, 0, 0)
        config = self.sandbox.config.marketing
        default = label == "default"
        self.instances[tenant.tenant_id] = BillionMailInstance(
            tenant.tenant_id,
            config.billionmail_api_key if default else f"bm-{secrets.token_urlsafe(24)}",
            config.billionmail_tasks if default else config.secondary_campaigns,
            config.billionmail_contacts if default else config.secondary_contacts,
        )
        return tenant

    def instance_for_key(self, request: Request) -> BillionMailInstance:
        header = request.headers.get("authorization", "")
        if not header:
            raise BillionMailError(401, "no authorization")
        token = header.removeprefix("Bearer ").strip()
        for instance in self.instances.values():
            if token and secrets.compare_digest(token.encode(), instance.api_key.encode()):
                instance.run_due(int(self.sandbox.clock.now().timestamp()))
                return instance
        raise BillionMailError(401, "")  # the real middleware blanks the message for bad tokens

    def now(self) -> int:
        return int(self.sandbox.clock.now().timestamp())

    # --- routes ---------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        return mount(APIRouter(), ROUTES, BillionMailRoutes(self).endpoint)

    def control_router(self) -> APIRouter:
        return mount(APIRouter(), BillionMailControl(self).routes())

    # --- wire format ---------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        # Unknown routes, injected errors and sandbox bugs: still HTTP 200, as the Go server answers.
        return failure(status, CODE_MESSAGES.get(status, message) if status >= 500 else message)

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        return failure(509, rule.message, headers)

    def page_number(self, request: Request) -> int | None:
        raw = request.query_params.get("page")
        return int(raw) if raw and raw.isdigit() else None
