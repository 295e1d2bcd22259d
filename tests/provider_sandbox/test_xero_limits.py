"""Xero's API call budgets: 60 calls a minute and 5,000 a day per app and organisation, 10,000 a minute per
app; the X-*Limit-Remaining headers on every answered call; the 429 once a budget is spent; and lifting the
budgets by configuration (this tier's sandbox runs with them lifted, tests here lower them back)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from provider_sandbox.core.config import XeroLimits, config_from_env
from tests.fixtures.sandbox import LIFTED_XERO_LIMITS
from tests.provider_sandbox.helpers import (
    APPS,
    REDIRECT_URI,
    authorize,
    basic,
    connect,
    new_tenant,
    redirect_params,
    xero_get,
)

REAL = {"per_minute": 60, "per_day": 5000, "app_per_minute": 10_000}
HEADERS = ("X-DayLimit-Remaining", "X-MinLimit-Remaining", "X-AppMinLimit-Remaining")
PROBLEM_KEYS = {"Type", "Title", "Status", "Detail", "Instance", "Extensions"}


def lifted_limits() -> dict[str, int]:
    return {
        "per_minute": int(LIFTED_XERO_LIMITS["SANDBOX_XERO_MINUTE_LIMIT"]),
        "per_day": int(LIFTED_XERO_LIMITS["SANDBOX_XERO_DAY_LIMIT"]),
        "app_per_minute": int(LIFTED_XERO_LIMITS["SANDBOX_XERO_APP_MINUTE_LIMIT"]),
    }


def set_limits(http: httpx.Client, **limits: int) -> dict[str, Any]:
    response = http.patch("/_sandbox/xero/limits", json=limits)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def real_limits(http: httpx.Client) -> Iterator[None]:
    """Xero's own budgets for the test, the tier's lifted ones back afterwards."""
    set_limits(http, **REAL)
    yield
    set_limits(http, **lifted_limits())


@pytest.fixture
def organisation(http: httpx.Client) -> tuple[str, str]:
    """A token and an organisation of the test's own: nothing else has spent its budgets."""
    tenant = new_tenant(http, "xero", invoices=5, contacts=2)
    return connect(http, "xero", tenant=tenant).access, tenant


def remaining(response: httpx.Response) -> tuple[int, int, int]:
    day, minute, app = (int(response.headers[name]) for name in HEADERS)
    return day, minute, app


def connect_another_app(http: httpx.Client, tenants: str) -> str:
    """An access token of a second Xero app (its own client id), consented to `tenants`."""
    client_id, secret = f"second-app-{uuid.uuid4().hex[:8]}", "second-app-secret"
    registered = http.post(
        "/_sandbox/clients",
        json={"provider": "xero", "client_id": client_id, "client_secret": secret, "redirect_uris": [REDIRECT_URI]},
    )
    assert registered.status_code == 201, registered.text
    code = redirect_params(authorize(http, "xero", tenants, client_id=client_id))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    tokens = http.post(APPS["xero"].token, data=form, headers={"Authorization": basic(client_id, secret)})
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["access_token"])


def advance_clock(http: httpx.Client, seconds: float) -> None:
    assert http.post("/_sandbox/clock/advance", json={"seconds": seconds}).status_code == 200


def test_real_budgets_are_the_default_and_the_environment_lifts_them() -> None:
    assert config_from_env({}).xero_limits == XeroLimits(per_minute=60, per_day=5000, app_per_minute=10_000)
    lifted = config_from_env(LIFTED_XERO_LIMITS).xero_limits
    assert (lifted.per_minute, lifted.per_day, lifted.app_per_minute) == tuple(lifted_limits().values())
    for name in LIFTED_XERO_LIMITS:
        with pytest.raises(ValueError, match=name):
            config_from_env({name: "0"})


def test_this_tiers_sandbox_runs_with_the_lifted_budgets(http: httpx.Client, organisation: tuple[str, str]) -> None:
    assert http.get("/_sandbox/xero/limits").json() == lifted_limits()
    token, tenant = organisation
    answers = [xero_get(http, token, tenant, "Organisation") for _ in range(REAL["per_minute"] + 5)]
    assert {answer.status_code for answer in answers} == {200}


def test_every_answered_call_shows_its_budgets_going_down(http: httpx.Client, organisation: tuple[str, str]) -> None:
    token, tenant = organisation
    first = xero_get(http, token, tenant, "Invoices", {"page": 1}).json()["Invoices"][0]
    calls = [
        ("Invoices", {"page": 1}, 200),
        ("Contacts", None, 200),
        ("Organisation", None, 200),
        (f"Invoices/{first['InvoiceID']}", None, 200),
        (f"Contacts/{first['Contact']['ContactID']}", None, 200),
        (f"Invoices/{uuid.uuid4()}", None, 404),
        ("Invoices", {"page": 0}, 400),
        ("Contacts", {"where": "Nope==1"}, 400),
    ]
    seen = []
    for resource, params, status in calls:
        response = xero_get(http, token, tenant, resource, params)
        assert response.status_code == status, f"{resource}: {response.text[:200]}"
        seen.append(remaining(response))
    days, minutes, apps = zip(*seen, strict=True)
    start_day, start_minute = lifted_limits()["per_day"] - 2, lifted_limits()["per_minute"] - 2
    assert list(days) == list(range(start_day, start_day - len(calls), -1))  # one less per call
    assert list(minutes) == list(range(start_minute, start_minute - len(calls), -1))
    assert list(apps) == sorted(apps, reverse=True)
    assert len(set(apps)) == len(apps)  # the app's minute budget, shared with its other organisations


def test_unauthenticated_answers_show_no_budget(http: httpx.Client, organisation: tuple[str, str]) -> None:
    token, tenant = organisation
    other = new_tenant(http, "xero", invoices=1, contacts=1)
    for response in (
        xero_get(http, "not-a-token", tenant, "Invoices"),  # 401
        xero_get(http, token, other, "Invoices"),  # 403: not consented
        xero_get(http, token, None, "Organisation"),  # 403: no tenant header
    ):
        assert response.status_code in (401, 403)
        assert not set(HEADERS) & set(response.headers)


def test_the_61st_call_in_a_minute_is_refused_until_the_minute_rolls(
    http: httpx.Client, organisation: tuple[str, str], real_limits: None
) -> None:
    token, tenant = organisation
    answers = [xero_get(http, token, tenant, "Invoices", {"page": 1}) for _ in range(60)]
    assert [a.status_code for a in answers] == [200] * 60
    assert [remaining(a)[1] for a in answers] == list(range(59, -1, -1))
    refused = xero_get(http, token, tenant, "Invoices", {"page": 1})
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    wait_s = int(refused.headers["Retry-After"])
    assert 1 <= wait_s <= 60
    assert remaining(refused)[:2] == (5000 - 60, 0)
    body = refused.json()
    assert set(body) == PROBLEM_KEYS
    assert (body["Status"], body["Title"]) == (429, "TooManyRequests")
    # A refused call is not counted; the other organisations and apps have budgets of their own.
    assert remaining(xero_get(http, token, tenant, "Contacts"))[:2] == (5000 - 60, 0)
    other = new_tenant(http, "xero", invoices=1, contacts=1)
    assert xero_get(http, connect(http, "xero", tenant=other).access, other, "Invoices").status_code == 200
    assert xero_get(http, connect_another_app(http, tenant), tenant, "Invoices").status_code == 200
    advance_clock(http, wait_s)
    assert xero_get(http, token, tenant, "Invoices").status_code == 200
    advance_clock(http, 60)
    assert remaining(xero_get(http, token, tenant, "Invoices"))[1] == 59


def test_the_day_budget_refuses_until_a_call_is_a_day_old(
    http: httpx.Client, organisation: tuple[str, str], real_limits: None
) -> None:
    set_limits(http, per_day=5)
    token, tenant = organisation
    assert [xero_get(http, token, tenant, "Organisation").status_code for _ in range(5)] == [200] * 5
    refused = xero_get(http, token, tenant, "Organisation")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "day"
    assert 86_400 - 120 <= int(refused.headers["Retry-After"]) <= 86_400
    assert remaining(refused)[0] == 0


def test_the_app_minute_budget_spans_the_apps_organisations(http: httpx.Client, real_limits: None) -> None:
    set_limits(http, app_per_minute=4)
    first, second = (new_tenant(http, "xero", invoices=1, contacts=1) for _ in range(2))
    token = connect_another_app(http, f"{first},{second}")  # an app of its own: no other test spent its budget
    statuses = [xero_get(http, token, tenant, "Invoices").status_code for tenant in (first, second, first, second)]
    assert statuses == [200] * 4
    refused = xero_get(http, token, first, "Invoices")
    assert (refused.status_code, refused.headers["X-Rate-Limit-Problem"]) == (429, "appminute")
    assert remaining(refused) == (5000 - 2, 60 - 2, 0)


def test_lifting_the_budget_while_running_lets_calls_through_at_once(
    http: httpx.Client, organisation: tuple[str, str], real_limits: None
) -> None:
    token, tenant = organisation
    for _ in range(60):
        xero_get(http, token, tenant, "Organisation")
    assert xero_get(http, token, tenant, "Organisation").status_code == 429
    assert set_limits(http, per_minute=1000) == {**REAL, "per_minute": 1000}
    lifted = xero_get(http, token, tenant, "Organisation")
    assert lifted.status_code == 200
    assert remaining(lifted)[1] == 1000 - 61


def test_reset_restores_the_configured_budgets(http: httpx.Client) -> None:
    set_limits(http, per_minute=7)
    assert http.post("/_sandbox/reset").status_code == 200
    assert http.get("/_sandbox/xero/limits").json() == lifted_limits()


@pytest.mark.parametrize(
    "body", [{"per_minute": 0}, {"per_day": -1}, {"per_minute": True}, {"per_minute": "60"}, {"per_hour": 100}]
)
def test_bad_budgets_are_refused(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.patch("/_sandbox/xero/limits", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_field"
    assert http.get("/_sandbox/xero/limits").json() == lifted_limits()
