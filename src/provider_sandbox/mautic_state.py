"""Mautic's state and request checks: the instances, bearer-token authorization, and the
errors, rate limits and paging in Mautic's shapes. mautic.py adds the routes; the route and
control modules see the simulator as this class, so none of them imports mautic.py.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from fastapi import Request, Response

from provider_sandbox.core.faults import FaultRule
from provider_sandbox.core.framework import ProviderSimulator, json_response
from provider_sandbox.core.oauth import Grant, OAuthProfile
from provider_sandbox.core.tenants import Tenant, TenantSpec, stable_uuid
from provider_sandbox.mautic_store import MauticInstance
from provider_sandbox.mautic_wire import DEFAULT_LIMIT

RATE_LIMIT = 100  # calls per hour shown in the 429 message (Mautic's api_rate_limiter_limit)
LISTINGS = ("campaigns", "segments", "contacts")


def mautic_error(status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return json_response({"errors": [{"message": message, "code": status, "type": kind}]}, status, headers)


def _token_body(body: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """FOSOAuthServerBundle's token JSON: lower-case token type, scope null when none."""
    return {**body, "token_type": "bearer", "scope": grant.scope or None}


class MauticState(ProviderSimulator):
    name = "mautic"
    tenant_spec = TenantSpec(id_factory=stable_uuid, currency="USD", country="US")
    tenant_names: ClassVar[tuple[str, str]] = ("Mautic (default instance)", "Mautic (second instance)")
    oauth_profile = OAuthProfile(
        provider="mautic", access_ttl_s=3600, refresh_ttl_s=14 * 86400, code_ttl_s=30, decorate=_token_body
    )

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.instances: dict[str, MauticInstance] = {}

    def reset(self) -> None:
        self.instances = {}
        self.create_tenant("default", self.tenant_names[0], 0, 0)
        self.create_tenant("secondary", self.tenant_names[1], 0, 0)

    def create_tenant(self, label: str, name: str, invoices: int, contacts: int) -> Tenant:
        """A tenant is one Mautic instance; the OAuth consent picks it (sandbox_tenant)."""
        tenant = super().create_tenant(label, name, 0, 0)
        config = self.sandbox.config.marketing
        default = label == "default"
        self.instances[tenant.tenant_id] = MauticInstance(
            tenant.tenant_id,
            config.mautic_campaigns if default else config.secondary_campaigns,
            config.mautic_contacts if default else config.secondary_contacts,
        )
        return tenant

    def authorize(self, request: Request) -> MauticInstance | Response:
        """The caller's instance, or Mautic's 401 for a missing, expired or revoked token."""
        header = request.headers.get("authorization")
        if header is None and request.query_params.get("access_token"):
            header = f"Bearer {request.query_params['access_token']}"  # Mautic also takes ?access_token=
        check = self.sandbox.oauth.check_bearer(self.name, header)
        if check.grant is None:
            if check.problem == "missing":
                return mautic_error(401, "API authorization denied.", "access_denied")
            if check.problem == "expired":
                return mautic_error(401, "The access token provided has expired.", "invalid_grant")
            return mautic_error(401, "The access token provided is invalid.", "invalid_grant")
        instance = self.instances.get(check.grant.tenant_ids[0]) if check.grant.tenant_ids else None
        if instance is None:
            return mautic_error(401, "The access token provided is invalid.", "invalid_grant")
        return instance

    # --- wire format ---------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        return mautic_error(status, message)

    def rate_limit_response(self, rule: FaultRule) -> Response:
        headers = {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + (rule.retry_after or 3600)),
        }
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        message = rule.message or f"You exceeded the rate limit of {RATE_LIMIT} API calls per hour."
        body = {"errors": [{"code": 429, "message": message, "details": []}]}
        return json_response(body, 429, headers)

    def page_number(self, request: Request) -> int | None:
        """Listings page with start/limit: page k covers start = (k-1) * limit."""
        if request.method != "GET" or request.url.path.rstrip("/").rsplit("/", 1)[-1] not in LISTINGS:
            return None
        start, limit = request.query_params.get("start", "0"), request.query_params.get("limit", "")
        size = int(limit) if limit.isdigit() and int(limit) > 0 else DEFAULT_LIMIT
        return (int(start) if start.isdigit() else 0) // size + 1
