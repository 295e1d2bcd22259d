"""PayPal's lists over real HTTP: every query parameter the specs list for the payment history
(`GET /v1/payments/payment`), the plan list (`GET /v1/billing/plans`) and a subscription's `fields`
is applied or refused with a 400 naming it, never ignored; the plan list's links page through it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.provider_sandbox.paypal_helpers import API, approve, bearer, link, paid, plan, subscription, token


@pytest.fixture
def access(http: httpx.Client) -> str:
    return token(http)


def payments(http: httpx.Client, access: str, **params: Any) -> httpx.Response:
    return http.get(f"{API}/payments/payment", params=params, headers=bearer(access))


def every_payment(http: httpx.Client, access: str, **params: Any) -> list[dict[str, Any]]:
    """The whole history, following next_id."""
    listed: list[dict[str, Any]] = []
    query: dict[str, Any] = {"count": 20, **params}
    while True:
        page = payments(http, access, **query).json()
        listed += page["payments"]
        if "next_id" not in page:
            return listed
        query["start_id"] = page["next_id"]


def created_at(payment: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(payment["create_time"])


def test_the_history_is_newest_first_and_start_index_is_a_position(http: httpx.Client, access: str) -> None:
    history = every_payment(http, access)
    assert [created_at(p) for p in history] == sorted((created_at(p) for p in history), reverse=True)
    third = payments(http, access, count=5, start_index=3).json()
    assert [p["id"] for p in third["payments"]] == [p["id"] for p in history[2:7]]
    assert third["next_id"] == history[7]["id"]
    both = payments(http, access, sort_by="create_time", sort_order="desc", count=4).json()["payments"]
    assert [p["id"] for p in both] == [p["id"] for p in history[:4]]


def test_start_and_end_time_select_by_creation(http: httpx.Client, access: str) -> None:
    history = every_payment(http, access)
    start, end = history[35]["create_time"], history[10]["create_time"]
    window = every_payment(http, access, start_time=start, end_time=end)
    expected = [p["id"] for p in history if created_at(history[35]) <= created_at(p) < created_at(history[10])]
    assert [p["id"] for p in window] == expected
    assert len(expected) >= 25  # more than one range of 20
    later = every_payment(http, access, start_time=start.replace("Z", "+00:00"))
    assert [p["id"] for p in later] == [p["id"] for p in history if created_at(p) >= created_at(history[35])]


def test_payee_id_filters_on_the_merchant_paid(http: httpx.Client, access: str) -> None:
    done = paid(http, access, "3.00")
    merchant = done["transactions"][0]["payee"]["merchant_id"]
    assert len(every_payment(http, access, payee_id=merchant)) == len(every_payment(http, access))
    assert payments(http, access, payee_id="SOMEONEELSE23").json() == {"payments": [], "count": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 21}, "count"),
        ({"count": "ten"}, "count"),
        ({"start_index": 0}, "start_index"),
        ({"start_index": "-1"}, "start_index"),
        ({"start_time": "2024-01-01"}, "start_time"),
        ({"end_time": "2024-01-01T00:00:00"}, "end_time"),
        ({"start_time": "2024-02-01T00:00:00Z", "end_time": "2024-01-01T00:00:00Z"}, "end_time"),
        ({"sort_by": "update_time"}, "sort_by"),
        ({"sort_order": "asc"}, "sort_order"),
        ({"start_id": "PAYID-NOTINTHELIST", "count": 2}, "start_id"),
        ({"start_id": "PAYID-X", "start_index": 2}, "start_index"),
    ],
)
def test_a_payment_list_parameter_out_of_the_spec_is_refused(
    http: httpx.Client, access: str, params: dict[str, Any], field: str
) -> None:
    refused = payments(http, access, **params)
    body = refused.json()
    assert (refused.status_code, body["name"], body["message"]) == (
        400,
        "VALIDATION_ERROR",
        "Invalid request - see details",
    )
    assert body["details"][0]["field"] == field
    assert body["debug_id"] == refused.headers["paypal-debug-id"]


def plans_page(http: httpx.Client, access: str, url: str = f"{API}/billing/plans", **params: Any) -> httpx.Response:
    # None, not {}: httpx replaces a link's own query with an empty params mapping.
    return http.get(url, params=params or None, headers=bearer(access))


def rels(body: dict[str, Any]) -> dict[str, str]:
    return {item["rel"]: item["href"] for item in body["links"]}


def test_plan_pages_link_to_each_other(http: httpx.Client, access: str) -> None:
    product = f"PROD-{uuid.uuid4().hex[:10].upper()}"
    made = [plan(http, access, product_id=product)["id"] for _ in range(5)]
    first = plans_page(http, access, product_id=product, page_size=2, total_required="true").json()
    assert (first["total_items"], first["total_pages"]) == (5, 3)
    assert set(rels(first)) == {"self", "first", "next", "last"}
    seen, body = [p["id"] for p in first["plans"]], first
    while "next" in rels(body):
        body = plans_page(http, access, rels(body)["next"]).json()
        seen += [p["id"] for p in body["plans"]]
        assert body["total_items"] == 5  # the links keep the request's filters
    assert seen == made
    assert set(rels(body)) == {"self", "first", "previous", "last"}
    assert [p["id"] for p in plans_page(http, access, rels(body)["previous"]).json()["plans"]] == made[2:4]
    assert plans_page(http, access, rels(body)["first"]).json()["plans"][0]["id"] == made[0]


def test_plan_list_filters_and_prefer(http: httpx.Client, access: str) -> None:
    product = f"PROD-{uuid.uuid4().hex[:10].upper()}"
    made = [plan(http, access, product_id=product)["id"] for _ in range(3)]
    chosen = plans_page(http, access, plan_ids=f"{made[0]},{made[2]}").json()["plans"]
    assert [p["id"] for p in chosen] == [made[0], made[2]]
    minimal = plans_page(http, access, product_id=product).json()["plans"][0]
    assert set(minimal) == {"id", "product_id", "name", "status", "create_time", "links"}
    whole = http.get(
        f"{API}/billing/plans",
        params={"product_id": product},
        headers={**bearer(access), "Prefer": "return=representation"},
    ).json()["plans"][0]
    assert {"billing_cycles", "payment_preferences", "update_time"} <= set(whole)
    assert "total_items" not in plans_page(http, access, product_id=product).json()


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 0},
        {"page_size": 21},
        {"page": 0},
        {"page": "two"},
        {"total_required": "yes"},
        {"product_id": "PROD"},
        {"plan_ids": ",".join(f"P-{n:024d}" for n in range(11))},
    ],
)
def test_a_plan_list_parameter_out_of_the_spec_is_refused(
    http: httpx.Client, access: str, params: dict[str, Any]
) -> None:
    refused = plans_page(http, access, **params)
    body = refused.json()
    assert (refused.status_code, body["name"]) == (400, "INVALID_REQUEST")
    (detail,) = body["details"]
    assert (detail["field"], detail["location"], detail["issue"]) == (
        next(iter(params)),
        "query",
        "INVALID_PARAMETER_VALUE",
    )
    assert detail["description"] == "The value of a field is invalid."


def test_subscription_fields(http: httpx.Client, access: str) -> None:
    sub = subscription(http, access, plan(http, access)["id"])
    approve(http, link(sub, "approve"))
    url = f"{API}/billing/subscriptions/{sub['id']}"
    assert "plan" not in http.get(url, headers=bearer(access)).json()
    inlined = http.get(url, params={"fields": "plan,last_failed_payment"}, headers=bearer(access)).json()
    assert inlined["plan"]["id"] == sub["plan_id"]
    refused = http.get(url, params={"fields": "plan,secrets"}, headers=bearer(access))
    assert (refused.status_code, refused.json()["details"][0]["field"]) == (400, "fields")
