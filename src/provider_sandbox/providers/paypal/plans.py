"""PayPal Billing v1 plans: create, list, get, update (JSON Patch), activate, deactivate.

Lists: `page_size` 1..20, `page` 1..100000, `total_required`, `product_id`, `plan_ids` (up to 10,
comma-separated) and the `Prefer` header (`return=minimal`, the default, lists each plan's id,
product, name, status, description, create time and links; `return=representation` whole plans).
`links` carry `self`, `first`, `last`, and `previous`/`next` where there is such a page. A value
the spec does not allow is a 400 INVALID_REQUEST naming the parameter, never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response

from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.providers.paypal import plan_fields as fields
from provider_sandbox.providers.paypal.api import PayPalApi
from provider_sandbox.providers.paypal.errors import (
    bad_field,
    billing_malformed,
    documented,
    json_object,
    not_found,
    unprocessable,
)
from provider_sandbox.providers.paypal.patching import Patchable, apply, read_operations
from provider_sandbox.providers.paypal.wire import code, link, stamp

# The issues the spec lists for each operation's 400 (errors.documented).
CREATE_ISSUES = (
    "INVALID_PARAMETER_SYNTAX",
    "INVALID_PARAMETER_VALUE",
    "MISSING_REQUIRED_PARAMETER",
    "INVALID_STRING_MIN_LENGTH",
    "INVALID_STRING_MAX_LENGTH",
    "INVALID_INTEGER_MIN_VALUE",
    "INVALID_INTEGER_MAX_VALUE",
)
PATCH_ISSUES = (
    "UNSUPPORTED_PATCH_OPERATION",
    "INVALID_PATCH_PATH",
    "INVALID_PARAMETER_SYNTAX",
    "INVALID_PARAMETER_VALUE",
)
MINIMAL_FIELDS = ("id", "product_id", "name", "status", "description", "create_time", "links")
MAX_PLAN_IDS = 10
# The fields the spec's table lets a PATCH replace (an INACTIVE plan takes none of them).
PATCHABLE = {
    "/description": Patchable(("replace",), lambda value, where: fields.text(value, where, 1, 127)),
    "/name": Patchable(("replace",), lambda value, where: fields.text(value, where, 1, 127)),
    "/payment_preferences/auto_bill_outstanding": Patchable(("replace",), fields.boolean),
    "/payment_preferences/payment_failure_threshold": Patchable(
        ("replace",), lambda value, where: fields.integer(value, where, 0, 999)
    ),
    "/payment_preferences/setup_fee": Patchable(("replace",), fields.money),
    "/payment_preferences/setup_fee_failure_action": Patchable(
        ("replace",), lambda value, where: fields.choice(value, where, ("CONTINUE", "CANCEL"))
    ),
    "/taxes/percentage": Patchable(("replace",), fields.percentage),
}


def find_plan(plans: dict[str, dict[str, Any]], plan_id: str) -> dict[str, Any]:
    if plan_id not in plans:
        raise not_found()
    return plans[plan_id]


def new_plan(data: dict[str, Any], now: str) -> dict[str, Any]:
    """A plan from a create request, every field checked (400/422 as the spec lists them)."""
    plan_id = f"P-{code(24)}"
    plan: dict[str, Any] = {
        "id": plan_id,
        "product_id": fields.text(data.get("product_id"), "/product_id", 6, 50),
        "name": fields.text(data.get("name"), "/name", 1, 127),
        "status": fields.choice(data.get("status", "ACTIVE"), "/status", ("CREATED", "INACTIVE", "ACTIVE")),
        "billing_cycles": fields.billing_cycles(data.get("billing_cycles")),
        "payment_preferences": fields.payment_preferences(data.get("payment_preferences")),
        "quantity_supported": fields.boolean(data.get("quantity_supported", False), "/quantity_supported"),
        "create_time": now,
        "update_time": now,
        "links": [
            link(f"{{base}}/v1/billing/plans/{plan_id}", "self"),
            link(f"{{base}}/v1/billing/plans/{plan_id}", "edit", "PATCH"),
            # PayPal names its deactivate link "self" too.
            link(f"{{base}}/v1/billing/plans/{plan_id}/deactivate", "self", "POST"),
        ],
    }
    if "description" in data:
        plan["description"] = fields.text(data["description"], "/description", 1, 127)
    if "taxes" in data:
        plan["taxes"] = fields.taxes(data["taxes"])
    return plan


def _page_number(params: Mapping[str, str], name: str, default: int, high: int) -> int:
    raw = params.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise bad_field(name, "INVALID_PARAMETER_VALUE", raw, "query")
    return int(raw)


def _selection(params: Mapping[str, str]) -> tuple[str | None, list[str] | None]:
    """The `product_id` and `plan_ids` filters (None where not given)."""
    product = params.get("product_id")
    if product is not None and not 6 <= len(product) <= 50:
        raise bad_field("product_id", "INVALID_PARAMETER_VALUE", product, "query")
    raw_ids = params.get("plan_ids")
    ids = None if raw_ids is None else [part.strip() for part in raw_ids.split(",")]
    if ids is not None and (not 3 <= len(raw_ids or "") <= 270 or len(ids) > MAX_PLAN_IDS or not all(ids)):
        raise bad_field("plan_ids", "INVALID_PARAMETER_VALUE", raw_ids, "query")
    return product, ids


def _total_required(params: Mapping[str, str]) -> bool:
    raw = params.get("total_required", "false")
    if raw not in ("true", "false"):
        raise bad_field("total_required", "INVALID_PARAMETER_VALUE", raw, "query")
    return raw == "true"


def _list_links(params: Mapping[str, str], size: int, page: int, pages: int) -> list[dict[str, str]]:
    """self, first, last, and previous/next when they exist; each keeps the request's filters."""
    kept = {key: params[key] for key in ("product_id", "plan_ids", "total_required") if key in params}

    def to(number: int, rel: str) -> dict[str, str]:
        return link(f"{{base}}/v1/billing/plans?{urlencode({'page_size': size, 'page': number, **kept})}", rel)

    links = [to(page, "self"), to(1, "first")]
    if page > 1:
        links.append(to(min(page - 1, pages), "previous"))
    if page < pages:
        links.append(to(page + 1, "next"))
    return [*links, to(pages, "last")]


def _shown(plan: dict[str, Any], whole: bool) -> dict[str, Any]:
    return plan if whole else {key: plan[key] for key in MINIMAL_FIELDS if key in plan}


class PlanRoutes:
    """Billing v1 plans; `routes()` is their table."""

    def __init__(self, api: PayPalApi) -> None:
        self.api = api

    def routes(self) -> list[Route[HttpEndpoint]]:
        return [
            Route("POST", "/v1/billing/plans", self.create_plan),
            Route("GET", "/v1/billing/plans", self.list_plans),
            Route("GET", "/v1/billing/plans/{plan_id}", self.get_plan),
            Route("PATCH", "/v1/billing/plans/{plan_id}", self.update_plan),
            Route("POST", "/v1/billing/plans/{plan_id}/activate", self.activate_plan),
            Route("POST", "/v1/billing/plans/{plan_id}/deactivate", self.deactivate_plan),
        ]

    async def create_plan(self, request: Request) -> Response:
        self.api.authorize(request)
        with documented(CREATE_ISSUES):
            plan = new_plan(await json_object(request, billing_malformed), stamp(self.api.clock.now()))
        self.api.plans[plan["id"]] = plan
        return self.api.render(plan, request, 201)

    async def list_plans(self, request: Request) -> Response:
        self.api.authorize(request)
        params = request.query_params
        size, page = _page_number(params, "page_size", 10, 20), _page_number(params, "page", 1, 100000)
        product, ids = _selection(params)
        plans = [
            plan
            for plan in self.api.plans.values()
            if product in (None, plan["product_id"]) and (ids is None or plan["id"] in ids)
        ]
        whole = "return=representation" in request.headers.get("prefer", "")
        body: dict[str, Any] = {"plans": [_shown(p, whole) for p in plans[(page - 1) * size : page * size]]}
        pages = max(1, -(-len(plans) // size))
        if _total_required(params):
            body.update(total_items=len(plans), total_pages=-(-len(plans) // size))
        body["links"] = _list_links(params, size, page, pages)
        return self.api.render(body, request)

    async def get_plan(self, request: Request, plan_id: str) -> Response:
        self.api.authorize(request)
        return self.api.render(find_plan(self.api.plans, plan_id), request)

    async def update_plan(self, request: Request, plan_id: str) -> Response:
        self.api.authorize(request)
        plan = find_plan(self.api.plans, plan_id)
        with documented(PATCH_ISSUES):
            operations = await read_operations(request, PATCHABLE)
        if plan["status"] == "INACTIVE":
            # The spec's own wording, typo included.
            raise unprocessable(
                "PLAN_STATUS_INACTIVE", "Status update is the only patchable filed on an inactive plan."
            )
        apply(plan, operations, {"taxes": {"inclusive": True}})
        plan["update_time"] = stamp(self.api.clock.now())
        return Response(status_code=204)

    async def activate_plan(self, request: Request, plan_id: str) -> Response:
        self.api.authorize(request)
        plan = find_plan(self.api.plans, plan_id)
        if plan["status"] == "ACTIVE":
            raise unprocessable(
                "PLAN_STATUS_INVALID",
                "Invalid plan status for activate action; plan status should be either created or inactive.",
            )
        plan.update(status="ACTIVE", update_time=stamp(self.api.clock.now()))
        return Response(status_code=204)

    async def deactivate_plan(self, request: Request, plan_id: str) -> Response:
        self.api.authorize(request)
        plan = find_plan(self.api.plans, plan_id)
        if plan["status"] != "ACTIVE":
            raise unprocessable(
                "PLAN_STATUS_INVALID", "Invalid plan status for deactivate action; plan status should be active."
            )
        plan.update(status="INACTIVE", update_time=stamp(self.api.clock.now()))
        return Response(status_code=204)
