"""PayPal Billing v1: plans (create, list, get, activate) and subscriptions (create, approve, get,
update, cancel), with BILLING.SUBSCRIPTION.* events as their state changes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.providers.paypal.api import PayPalApi
from provider_sandbox.providers.paypal.wire import PayPalError, code, invalid, issue, link, payer_id, stamp

UNITS = ("DAY", "WEEK", "MONTH", "YEAR")


def unprocessable(issue_name: str, description: str) -> PayPalError:
    return PayPalError(422, details=[issue("", issue_name, description)])


def _cycles(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 12:
        raise invalid("billing_cycles", "billing_cycles must be a list of 1 to 12 cycles")
    cycles = []
    for index, cycle in enumerate(raw):
        where = f"billing_cycles[{index}]"
        frequency = cycle.get("frequency") if isinstance(cycle, dict) else None
        if not isinstance(frequency, dict) or frequency.get("interval_unit") not in UNITS:
            raise invalid(f"{where}.frequency.interval_unit", f"interval_unit must be one of {', '.join(UNITS)}")
        if cycle.get("tenure_type") not in ("REGULAR", "TRIAL") or not isinstance(cycle.get("sequence"), int):
            raise invalid(f"{where}.tenure_type", "tenure_type (REGULAR or TRIAL) and an integer sequence are required")
        price = (cycle.get("pricing_scheme") or {}).get("fixed_price")
        if not isinstance(price, dict) or not isinstance(price.get("value"), str) or not price.get("currency_code"):
            raise invalid(f"{where}.pricing_scheme.fixed_price", "fixed_price needs value and currency_code")
        cycles.append(
            {
                "frequency": {
                    "interval_unit": frequency["interval_unit"],
                    "interval_count": frequency.get("interval_count", 1),
                },
                "tenure_type": cycle["tenure_type"],
                "sequence": cycle["sequence"],
                "total_cycles": cycle.get("total_cycles", 0),
                "pricing_scheme": {
                    "version": 1,
                    "fixed_price": {"currency_code": price["currency_code"], "value": price["value"]},
                },
            }
        )
    return cycles


def approve_subscription(sim: PayPalApi, request: Request, subscription_id: str, token: str) -> Response:
    sub = sim.subscriptions[subscription_id]
    if sub["status"] == "APPROVAL_PENDING":
        now = sim.clock.now()
        currency = sim.plans[sub["plan_id"]]["billing_cycles"][0]["pricing_scheme"]["fixed_price"]["currency_code"]
        sub.update(status="ACTIVE", status_update_time=stamp(now), update_time=stamp(now))
        sub["subscriber"]["payer_id"] = payer_id()
        sub["billing_info"] = {
            "outstanding_balance": {"currency_code": currency, "value": "0.00"},
            "cycle_executions": [
                {
                    "tenure_type": "REGULAR",
                    "sequence": 1,
                    "cycles_completed": 1,
                    "cycles_remaining": 0,
                    "total_cycles": 0,
                }
            ],
            "next_billing_time": stamp(now + timedelta(days=30)),
            "failed_payments_count": 0,
        }
        sub["links"] = [item for item in sub["links"] if item["rel"] != "approve"]
        sim.emit(request, "BILLING.SUBSCRIPTION.ACTIVATED", "subscription", sub, "Subscription activated")
    query = {"subscription_id": subscription_id, "ba_token": token, "token": f"EC-{code(17)}"}
    return RedirectResponse(f"{sub['sandbox_return_url']}?{urlencode(query)}", 302)


def public(sub: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sub.items() if not k.startswith("sandbox_")}


def find(store: dict[str, dict[str, Any]], object_id: str) -> dict[str, Any]:
    if object_id not in store:
        raise PayPalError(404)  # Billing v1 answers RESOURCE_NOT_FOUND (payments v1: INVALID_RESOURCE_ID)
    return store[object_id]


class BillingRoutes:
    """Billing v1 plans and subscriptions; `routes()` is their table."""

    def __init__(self, api: PayPalApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("POST", "/v1/billing/plans", self.create_plan),
            Route("GET", "/v1/billing/plans", self.list_plans),
            Route("GET", "/v1/billing/plans/{plan_id}", self.get_plan),
            Route("POST", "/v1/billing/plans/{plan_id}/activate", self.activate_plan),
            Route("POST", "/v1/billing/subscriptions", self.create_subscription),
            Route("GET", "/v1/billing/subscriptions/{sub_id}", self.get_subscription),
            Route("PATCH", "/v1/billing/subscriptions/{sub_id}", self.update_subscription),
            Route("POST", "/v1/billing/subscriptions/{sub_id}/cancel", self.cancel_subscription),
        ]

    async def create_plan(self, request: Request) -> Response:
        self.api.authorize(request)
        data = await self.api.json_body(request)
        product = data.get("product_id")
        if not isinstance(product, str) or not 6 <= len(product) <= 50:
            raise invalid("product_id", "product_id must be 6 to 50 characters")
        name = data.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 127:
            raise invalid("name", "name must be 1 to 127 characters")
        status = data.get("status", "ACTIVE")
        if status not in ("CREATED", "INACTIVE", "ACTIVE"):
            raise invalid("status", "status must be CREATED, INACTIVE or ACTIVE")
        if not isinstance(data.get("payment_preferences"), dict):
            raise invalid("payment_preferences", "payment_preferences is required")
        now = stamp(self.api.clock.now())
        plan_id = f"P-{code(24)}"
        plan: dict[str, Any] = {
            "id": plan_id,
            "product_id": product,
            "name": name,
            "status": status,
            "billing_cycles": _cycles(data.get("billing_cycles")),
            "payment_preferences": {
                "auto_bill_outstanding": bool(data["payment_preferences"].get("auto_bill_outstanding", True)),
                "setup_fee_failure_action": data["payment_preferences"].get("setup_fee_failure_action", "CANCEL"),
                "payment_failure_threshold": int(data["payment_preferences"].get("payment_failure_threshold", 0)),
            },
            "quantity_supported": bool(data.get("quantity_supported", False)),
            "create_time": now,
            "update_time": now,
            "links": [
                link(f"{{base}}/v1/billing/plans/{plan_id}", "self"),
                link(f"{{base}}/v1/billing/plans/{plan_id}", "edit", "PATCH"),
                link(f"{{base}}/v1/billing/plans/{plan_id}/deactivate", "self", "POST"),
            ],
        }
        if isinstance(data.get("description"), str) and data["description"]:
            plan["description"] = data["description"][:127]
        self.api.plans[plan_id] = plan
        return self.api.render(plan, request, 201)

    async def list_plans(self, request: Request) -> Response:
        self.api.authorize(request)
        params = request.query_params
        size_raw, page_raw = params.get("page_size", "10"), params.get("page", "1")
        if not size_raw.isdigit() or not 1 <= int(size_raw) <= 20:
            raise invalid("page_size", "page_size must be an integer from 1 to 20")
        if not page_raw.isdigit() or not 1 <= int(page_raw) <= 100000:
            raise invalid("page", "page must be an integer from 1 to 100000")
        size, page = int(size_raw), int(page_raw)
        plans = [p for p in self.api.plans.values() if params.get("product_id") in (None, p["product_id"])]
        body: dict[str, Any] = {"plans": plans[(page - 1) * size : page * size]}
        if params.get("total_required") == "true":
            body.update(total_items=len(plans), total_pages=-(-len(plans) // size))
        body["links"] = [link(f"{{base}}/v1/billing/plans?page_size={size}&page={page}", "self")]
        return self.api.render(body, request)

    async def get_plan(self, request: Request, plan_id: str) -> Response:
        self.api.authorize(request)
        return self.api.render(find(self.api.plans, plan_id), request)

    async def activate_plan(self, request: Request, plan_id: str) -> Response:
        self.api.authorize(request)
        plan = find(self.api.plans, plan_id)
        if plan["status"] == "ACTIVE":
            raise unprocessable(
                "PLAN_STATUS_INVALID",
                "Invalid plan status for activate action; plan status should be either created or inactive.",
            )
        plan.update(status="ACTIVE", update_time=stamp(self.api.clock.now()))
        return Response(status_code=204)

    async def create_subscription(self, request: Request) -> Response:
        self.api.authorize(request)
        data = await self.api.json_body(request)
        plan_id = data.get("plan_id")
        if not isinstance(plan_id, str) or plan_id not in self.api.plans:
            raise unprocessable("INVALID_RESOURCE_ID", "Requested resource ID was not found.")
        if self.api.plans[plan_id]["status"] != "ACTIVE":
            raise unprocessable(
                "PLAN_STATUS_INVALID", "Invalid plan status for subscription creation; plan status should be active."
            )
        subscriber = data.get("subscriber", {})
        if not isinstance(subscriber, dict):
            raise invalid("subscriber", "subscriber must be an object")
        raw_context = data.get("application_context")
        context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
        now = self.api.clock.now()
        sub_id, token = f"I-{code(12)}", f"BA-{code(17)}"
        sub: dict[str, Any] = {
            "id": sub_id,
            "plan_id": plan_id,
            "status": "APPROVAL_PENDING",
            "status_update_time": stamp(now),
            "start_time": data.get("start_time") if isinstance(data.get("start_time"), str) else stamp(now),
            "quantity": str(data.get("quantity", "1")),
            "subscriber": {k: v for k, v in subscriber.items() if k in ("name", "email_address", "shipping_address")},
            "plan_overridden": False,
            "create_time": stamp(now),
            "update_time": stamp(now),
            "links": [
                link(f"{{base}}/checkoutnow?ba_token={token}", "approve"),
                link(f"{{base}}/v1/billing/subscriptions/{sub_id}", "edit", "PATCH"),
                link(f"{{base}}/v1/billing/subscriptions/{sub_id}", "self"),
            ],
            "sandbox_return_url": context.get("return_url", "https://example.com/return"),
        }
        if isinstance(data.get("custom_id"), str) and data["custom_id"]:
            sub["custom_id"] = data["custom_id"][:127]
        self.api.subscriptions[sub_id] = sub
        self.api.approvals[token] = ("subscription", sub_id)
        self.api.emit(request, "BILLING.SUBSCRIPTION.CREATED", "subscription", public(sub), "Subscription created")
        return self.api.render(public(sub), request, 201)

    async def get_subscription(self, request: Request, sub_id: str) -> Response:
        self.api.authorize(request)
        return self.api.render(public(find(self.api.subscriptions, sub_id)), request)

    async def update_subscription(self, request: Request, sub_id: str) -> Response:
        """JSON Patch limited to `/custom_id` and `/quantity` (replace or add)."""
        self.api.authorize(request)
        sub = find(self.api.subscriptions, sub_id)
        try:
            ops = json.loads(await request.body() or b"[]")
        except ValueError:
            raise PayPalError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.") from None
        if not isinstance(ops, list) or not ops:
            raise invalid("", "The body must be a non-empty JSON Patch array")
        for op in ops:
            if (
                not isinstance(op, dict)
                or op.get("op") not in ("replace", "add")
                or op.get("path") not in ("/custom_id", "/quantity")
            ):
                raise unprocessable(
                    "INVALID_PATCH_OPERATION", "Only replace/add of /custom_id and /quantity is supported."
                )
            sub[op["path"][1:]] = str(op.get("value", ""))
        sub["update_time"] = stamp(self.api.clock.now())
        self.api.emit(request, "BILLING.SUBSCRIPTION.UPDATED", "subscription", public(sub), "Subscription updated")
        return Response(status_code=204)

    async def cancel_subscription(self, request: Request, sub_id: str) -> Response:
        self.api.authorize(request)
        sub = find(self.api.subscriptions, sub_id)
        reason = (await self.api.json_body(request)).get("reason")
        if not isinstance(reason, str) or not 1 <= len(reason) <= 128:
            raise invalid("reason", "reason is required (1 to 128 characters)")
        if sub["status"] not in ("ACTIVE", "SUSPENDED"):
            raise unprocessable(
                "SUBSCRIPTION_STATUS_INVALID",
                "Invalid subscription status for cancel action; subscription status should be active or suspended.",
            )
        now = stamp(self.api.clock.now())
        sub.update(status="CANCELLED", status_update_time=now, update_time=now, status_change_note=reason)
        self.api.emit(request, "BILLING.SUBSCRIPTION.CANCELLED", "subscription", public(sub), "Subscription cancelled")
        return Response(status_code=204)
