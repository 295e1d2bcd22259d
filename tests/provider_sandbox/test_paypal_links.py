"""Plan updates and deactivation (the plan's `edit` and deactivate links), and every link the sandbox
puts in an answer answering: none may be a 404 or 405."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.provider_sandbox.paypal_helpers import (
    API,
    approve,
    bearer,
    create_payment,
    link,
    paid,
    plan,
    subscription,
    token,
)

# What following a link sends: a body the operation can parse (it may still refuse it, e.g. 400/422).
LINK_BODIES: dict[str, Any] = {"PATCH": [{"op": "replace", "path": "/description", "value": "Followed"}], "POST": {}}


@pytest.fixture
def access(http: httpx.Client) -> str:
    return token(http)


def patch_plan(http: httpx.Client, access: str, plan_id: str, *ops: dict[str, Any]) -> httpx.Response:
    return http.patch(f"{API}/billing/plans/{plan_id}", json=list(ops), headers=bearer(access))


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def test_a_plan_is_updated_by_json_patch(http: httpx.Client, access: str) -> None:
    created = plan(http, access)
    edited = patch_plan(
        http,
        access,
        link(created, "edit").rsplit("/", 1)[1],
        replace("/description", "Now with more"),
        replace("/name", "CRM Pro 2"),
        replace("/payment_preferences/payment_failure_threshold", 5),
        replace("/payment_preferences/setup_fee", {"currency_code": "USD", "value": "1.50"}),
        replace("/taxes/percentage", "10"),
    )
    assert (edited.status_code, edited.content) == (204, b"")
    assert edited.headers["paypal-debug-id"]
    got = http.get(f"{API}/billing/plans/{created['id']}", headers=bearer(access)).json()
    assert (got["description"], got["name"]) == ("Now with more", "CRM Pro 2")
    assert got["payment_preferences"]["payment_failure_threshold"] == 5
    assert got["payment_preferences"]["setup_fee"] == {"currency_code": "USD", "value": "1.50"}
    assert got["taxes"] == {"percentage": "10", "inclusive": True}


@pytest.mark.parametrize(
    ("ops", "issue", "description"),
    [
        ([{"op": "add", "path": "/description", "value": "x"}], "UNSUPPORTED_PATCH_OPERATION", None),
        ([replace("/product_id", "PROD-OTHER01")], "INVALID_PATCH_PATH", "The specified field cannot be patched."),
        (
            [replace("/name", "a"), replace("/name", "b")],
            "INVALID_PATCH_PATH",
            "Multiple operations on the same field are not allowed.",
        ),
        ([replace("/name", "")], "INVALID_PARAMETER_VALUE", "The value of a field is invalid."),
        ([replace("/payment_preferences/payment_failure_threshold", 1000)], "INVALID_PARAMETER_VALUE", None),
        ([{"op": "replace", "path": "/name"}], "INVALID_PARAMETER_VALUE", None),
        ({"op": "replace"}, "INVALID_PARAMETER_SYNTAX", None),
    ],
)
def test_a_bad_plan_patch_is_refused_as_the_spec_lists(
    http: httpx.Client, access: str, ops: Any, issue: str, description: str | None
) -> None:
    created = plan(http, access)
    refused = http.patch(f"{API}/billing/plans/{created['id']}", json=ops, headers=bearer(access))
    body = refused.json()
    assert (refused.status_code, body["name"], body["details"][0]["issue"]) == (400, "INVALID_REQUEST", issue)
    assert description in (None, body["details"][0]["description"])
    assert http.get(f"{API}/billing/plans/{created['id']}", headers=bearer(access)).json()["name"] == "CRM Pro"


def test_deactivate_then_reactivate(http: httpx.Client, access: str) -> None:
    created = plan(http, access)
    deactivate = next(item for item in created["links"] if item["href"].endswith("/deactivate"))
    assert http.post(deactivate["href"], headers=bearer(access)).status_code == 204
    assert http.get(f"{API}/billing/plans/{created['id']}", headers=bearer(access)).json()["status"] == "INACTIVE"
    again = http.post(deactivate["href"], headers=bearer(access))
    assert (again.status_code, again.json()["details"]) == (
        422,
        [
            {
                "issue": "PLAN_STATUS_INVALID",
                "description": "Invalid plan status for deactivate action; plan status should be active.",
            }
        ],
    )
    frozen = patch_plan(http, access, created["id"], replace("/description", "x"))
    assert (frozen.status_code, frozen.json()["details"][0]["issue"]) == (422, "PLAN_STATUS_INACTIVE")
    assert http.post(f"{API}/billing/plans/{created['id']}/activate", headers=bearer(access)).status_code == 204
    missing = http.post(f"{API}/billing/plans/P-NOSUCHPLAN/deactivate", headers=bearer(access))
    assert (missing.status_code, missing.json()["details"][0]["issue"]) == (404, "INVALID_RESOURCE_ID")


def follow(http: httpx.Client, access: str, item: dict[str, str]) -> int:
    body = LINK_BODIES.get(item["method"])
    request = http.build_request(
        item["method"], item["href"], json=body if body is not None else None, headers=bearer(access)
    )
    return http.send(request, follow_redirects=False).status_code


def answers_of_links(http: httpx.Client, access: str, objects: list[dict[str, Any]]) -> dict[str, int]:
    return {
        f"{item['method']} {item['href']} ({item['rel']})": follow(http, access, item)
        for obj in objects
        for item in obj["links"]
    }


def test_every_link_answers(http: httpx.Client, access: str) -> None:
    created_payment = create_payment(http, access)
    done = paid(http, access, "12.00")
    sale = done["transactions"][0]["related_resources"][0]["sale"]
    refund = http.post(f"{API}/payments/sale/{sale['id']}/refund", json={}, headers=bearer(access)).json()
    active_plan = plan(http, access)
    pending = subscription(http, access, active_plan["id"])
    approved = subscription(http, access, active_plan["id"])
    approve(http, link(approved, "approve"))
    active = http.get(f"{API}/billing/subscriptions/{approved['id']}", headers=bearer(access)).json()
    listing = http.get(f"{API}/billing/plans", params={"page_size": 1, "page": 2}, headers=bearer(access)).json()
    objects = [created_payment, done, sale, refund, active_plan, pending, active, listing, *listing["plans"]]
    answers = answers_of_links(http, access, objects)
    assert {"approval_url", "execute", "refund", "parent_payment", "edit", "approve", "cancel", "next", "previous"} <= {
        key.rsplit("(", 1)[1].rstrip(")") for key in answers
    }
    assert [key for key, status in answers.items() if status in (404, 405)] == []
