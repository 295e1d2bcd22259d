"""PayPal Billing v1: subscriptions (create, approve, get, update, cancel) with BILLING.SUBSCRIPTION.*
events as their state changes, and the table of every billing route (plans are in plans.py).

Simplified: a subscription is ACTIVE as soon as the buyer approves it; `fields=plan` inlines the plan,
`fields=last_failed_payment` adds nothing (no payment ever fails here). PATCH supports `/custom_id`
and `/shipping_amount` (add, replace) and refuses `/start_time` once active, as PayPal does; the
spec's other patchable fields (plan overrides, outstanding balance, shipping address, payment
source) are not simulated and answer INVALID_PATCH_PATH.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.providers.paypal import plan_fields as fields
from provider_sandbox.providers.paypal.api import PayPalApi
from provider_sandbox.providers.paypal.errors import (
    PayPalError,
    bad_field,
    billing_malformed,
    detail,
    documented,
    json_value,
    not_found,
    unprocessable,
)
from provider_sandbox.providers.paypal.patching import Patchable, apply, read_operations
from provider_sandbox.providers.paypal.plans import PlanRoutes
from provider_sandbox.providers.paypal.wire import code, link, payer_id, stamp

# subscription_request_post.plan_id: 3 to 50 characters; a well-formed id of no plan is a 404, not a syntax error.
PLAN_ID = re.compile(r"[^\x00-\x1f]{3,50}")
QUANTITY = re.compile(r"^([0-9]+|([0-9]+)?[.][0-9]+)$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}([.]\d+)?([Zz]|[+-]\d{2}:\d{2})$")
SHOWABLE_FIELDS = ("plan", "last_failed_payment")
DEFAULT_RETURN_URL = "https://example.com/return"


# The issues the spec lists for each operation's 400 (errors.documented).
CREATE_ISSUES = (
    "INVALID_PARAMETER_SYNTAX",
    "INVALID_PARAMETER_VALUE",
    "INVALID_STRING_MAX_LENGTH",
    "INVALID_INTEGER_MIN_VALUE",
    "INVALID_INTEGER_MAX_VALUE",
    "MISSING_REQUEST_BODY",
    "MISSING_REQUIRED_PARAMETER",
)
PATCH_ISSUES = (*CREATE_ISSUES, "INVALID_STRING_MIN_LENGTH", "UNSUPPORTED_PATCH_OPERATION", "INVALID_PATCH_PATH")
CANCEL_ISSUES = ("INVALID_STRING_MAX_LENGTH",)


def _start_time_value(value: Any, where: str) -> str:
    if not isinstance(value, str) or not DATE_TIME.match(value):
        raise bad_field(where, "INVALID_PARAMETER_SYNTAX", value if isinstance(value, str) else None)
    return value


PATCHABLE = {
    "/custom_id": Patchable(("add", "replace"), lambda value, where: fields.text(value, where, 1, 127)),
    "/shipping_amount": Patchable(("add", "replace"), fields.money),
    "/start_time": Patchable(("replace",), _start_time_value),  # refused once active (update_subscription)
}


def find_subscription(subscriptions: dict[str, dict[str, Any]], sub_id: str) -> dict[str, Any]:
    if sub_id not in subscriptions:
        raise not_found()
    return subscriptions[sub_id]


def approve_subscription(api: PayPalApi, request: Request, subscription_id: str, token: str) -> Response:
    sub = api.subscriptions[subscription_id]
    if sub["status"] == "APPROVAL_PENDING":
        _activate(api, sub)
        api.emit(request, "BILLING.SUBSCRIPTION.ACTIVATED", "subscription", sub, "Subscription activated")
    query = {"subscription_id": subscription_id, "ba_token": token, "token": f"EC-{code(17)}"}
    return RedirectResponse(f"{api.return_urls[subscription_id]}?{urlencode(query)}", 302)


def _activate(api: PayPalApi, sub: dict[str, Any]) -> None:
    now = api.clock.now()
    currency = fields.plan_currency(api.plans[sub["plan_id"]])
    sub.update(status="ACTIVE", status_update_time=stamp(now), update_time=stamp(now))
    sub["subscriber"]["payer_id"] = payer_id()
    sub["billing_info"] = {
        "outstanding_balance": {"currency_code": currency, "value": "0.00"},
        "cycle_executions": [
            {"tenure_type": "REGULAR", "sequence": 1, "cycles_completed": 1, "cycles_remaining": 0, "total_cycles": 0}
        ],
        "next_billing_time": stamp(now + timedelta(days=30)),
        "failed_payments_count": 0,
    }
    sub["links"] = [item for item in sub["links"] if item["rel"] != "approve"]
    sub["links"].append(link(f"{{base}}/v1/billing/subscriptions/{sub['id']}/cancel", "cancel", "POST"))


def _plan_for(api: PayPalApi, data: dict[str, Any]) -> dict[str, Any]:
    raw = data.get("plan_id")
    if raw is None:
        raise bad_field("/plan_id", "MISSING_REQUIRED_PARAMETER")
    if not isinstance(raw, str) or not PLAN_ID.fullmatch(raw):
        raise bad_field("/plan_id", "INVALID_PARAMETER_SYNTAX", raw if isinstance(raw, str) else None)
    if raw not in api.plans:
        raise PayPalError(404, details=[detail("/plan_id", "INVALID_RESOURCE_ID", value=raw)])
    plan = api.plans[raw]
    if plan["status"] != "ACTIVE":
        raise unprocessable(
            "PLAN_STATUS_INVALID", "Invalid plan status for subscription creation; plan status should be active."
        )
    return plan


def _quantity(data: dict[str, Any], plan: dict[str, Any]) -> str:
    if "quantity" not in data:
        return "1"
    quantity = fields.text(data["quantity"], "/quantity", 1, 32)
    if not QUANTITY.match(quantity):
        raise bad_field("/quantity", "INVALID_PARAMETER_SYNTAX", quantity)
    if not plan["quantity_supported"]:
        raise unprocessable(
            "SUBSCRIPTION_CANNOT_HAVE_QUANTITY",
            "Subscription can't have quantity as the plan does not support quantity.",
        )
    return quantity


def _start_time(data: dict[str, Any], now: str) -> str:
    return _start_time_value(data["start_time"], "/start_time") if "start_time" in data else now


def _return_url(data: dict[str, Any]) -> str:
    if "application_context" not in data:
        return DEFAULT_RETURN_URL
    context = fields.obj(data["application_context"], "/application_context")
    fields.text(context.get("cancel_url"), "/application_context/cancel_url", 10, 4000)
    return fields.text(context.get("return_url"), "/application_context/return_url", 10, 4000)


def _subscriber(data: dict[str, Any]) -> dict[str, Any]:
    raw = fields.obj(data.get("subscriber", {}), "/subscriber")
    return {key: value for key, value in raw.items() if key in ("name", "email_address", "shipping_address")}


def new_subscription(api: PayPalApi, data: dict[str, Any], token: str) -> dict[str, Any]:
    plan, now = _plan_for(api, data), stamp(api.clock.now())
    sub_id = f"I-{code(12)}"
    sub: dict[str, Any] = {
        "id": sub_id,
        "plan_id": plan["id"],
        "status": "APPROVAL_PENDING",
        "status_update_time": now,
        "start_time": _start_time(data, now),
        "quantity": _quantity(data, plan),
        "subscriber": _subscriber(data),
        "plan_overridden": False,
        "create_time": now,
        "update_time": now,
        "links": [
            link(f"{{base}}/checkoutnow?ba_token={token}", "approve"),
            link(f"{{base}}/v1/billing/subscriptions/{sub_id}", "edit", "PATCH"),
            link(f"{{base}}/v1/billing/subscriptions/{sub_id}", "self"),
        ],
    }
    if "custom_id" in data:
        sub["custom_id"] = fields.text(data["custom_id"], "/custom_id", 1, 127)
    if "shipping_amount" in data:
        sub["shipping_amount"] = fields.money(data["shipping_amount"], "/shipping_amount")
    return sub


def _shown_fields(raw: str | None) -> list[str]:
    if raw is None:
        return []
    names = [name.strip() for name in raw.split(",")]
    if not 1 <= len(raw) <= 100 or any(name not in SHOWABLE_FIELDS for name in names):
        raise bad_field("fields", "INVALID_PARAMETER_VALUE", raw, "query")
    return names


class BillingRoutes:
    """Billing v1 subscriptions plus the plan routes; `routes()` is their table."""

    def __init__(self, api: PayPalApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            *PlanRoutes(self.api).routes(),
            Route("POST", "/v1/billing/subscriptions", self.create_subscription),
            Route("GET", "/v1/billing/subscriptions/{sub_id}", self.get_subscription),
            Route("PATCH", "/v1/billing/subscriptions/{sub_id}", self.update_subscription),
            Route("POST", "/v1/billing/subscriptions/{sub_id}/cancel", self.cancel_subscription),
        ]

    async def create_subscription(self, request: Request) -> Response:
        self.api.authorize(request)
        token = f"BA-{code(17)}"
        with documented(CREATE_ISSUES):
            data = await json_value(request, billing_malformed)
            if data is None:
                raise bad_field("/", "MISSING_REQUEST_BODY")
            return_url = _return_url(fields.obj(data, "/"))
            sub = new_subscription(self.api, data, token)
        self.api.subscriptions[sub["id"]] = sub
        self.api.return_urls[sub["id"]] = return_url
        self.api.approvals[token] = ("subscription", sub["id"])
        self.api.emit(request, "BILLING.SUBSCRIPTION.CREATED", "subscription", sub, "Subscription created")
        return self.api.render(sub, request, 201)

    async def get_subscription(self, request: Request, sub_id: str) -> Response:
        self.api.authorize(request)
        sub = find_subscription(self.api.subscriptions, sub_id)
        if "plan" in _shown_fields(request.query_params.get("fields")):
            return self.api.render({**sub, "plan": self.api.plans[sub["plan_id"]]}, request)
        return self.api.render(sub, request)

    async def update_subscription(self, request: Request, sub_id: str) -> Response:
        self.api.authorize(request)
        sub = find_subscription(self.api.subscriptions, sub_id)
        with documented(PATCH_ISSUES):
            operations = await read_operations(request, PATCHABLE)
        if sub["status"] not in ("ACTIVE", "SUSPENDED"):
            raise unprocessable(
                "SUBSCRIPTION_STATUS_INVALID",
                "Invalid subscription status for patch action; subscription status should be either active or "
                "suspended.",
            )
        if any(operation.path == "/start_time" for operation in operations):  # only active ones get here
            raise unprocessable(
                "INVALID_START_TIME", "The start time cannot be updated for a subscription that has been activated."
            )
        apply(sub, operations, {})
        sub["update_time"] = stamp(self.api.clock.now())
        self.api.emit(request, "BILLING.SUBSCRIPTION.UPDATED", "subscription", sub, "Subscription updated")
        return Response(status_code=204)

    async def cancel_subscription(self, request: Request, sub_id: str) -> Response:
        self.api.authorize(request)
        sub = find_subscription(self.api.subscriptions, sub_id)
        with documented(CANCEL_ISSUES):
            data = fields.obj(await json_value(request, billing_malformed), "/")
            reason = fields.text(data.get("reason"), "/reason", 1, 128)
        if sub["status"] not in ("ACTIVE", "SUSPENDED"):
            raise unprocessable(
                "SUBSCRIPTION_STATUS_INVALID",
                "Invalid subscription status for cancel action; subscription status should be active or suspended.",
            )
        now = stamp(self.api.clock.now())
        sub.update(status="CANCELLED", status_update_time=now, update_time=now, status_change_note=reason)
        sub["links"] = [item for item in sub["links"] if item["rel"] != "cancel"]
        self.api.emit(request, "BILLING.SUBSCRIPTION.CANCELLED", "subscription", sub, "Subscription cancelled")
        return Response(status_code=204)
