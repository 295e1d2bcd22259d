"""Every Stripe answer the sandbox gives fits the official SDK's types (harness.core.stripe_oracle), with or
without the providers' specs beside the project: objects, lists, expansions, events and errors."""

from __future__ import annotations

import httpx

from harness.core.stripe_oracle import stripe_problems
from tests.provider_sandbox.stripe_helpers import auth, get, paid_intent, post


def judged(response: httpx.Response) -> list[str]:
    return stripe_problems(response.status_code, response.json())


def test_objects_lists_and_errors_fit_the_sdks_types(http: httpx.Client) -> None:
    customer = post(http, "/customers", {"email": "types@example.com", "metadata[crm]": "7"})
    price = post(
        http,
        "/prices",
        {"currency": "usd", "unit_amount": 700, "recurring[interval]": "month", "product_data[name]": "Types"},
    )
    answers = [customer, price, get(http, "/customers", {"limit": 2}), get(http, "/prices/" + price.json()["id"])]
    paid, declined = paid_intent(http), paid_intent(http, method="pm_card_chargeDeclinedInsufficientFunds")
    assert declined["error"]["type"] == "card_error"
    answers += [
        get(http, f"/payment_intents/{paid['id']}", {"expand[]": "latest_charge"}),
        post(http, "/refunds", {"charge": paid["latest_charge"], "amount": 100}),
        post(http, "/payment_intents", {"amount": 900, "currency": "usd", "payment_method": "pm_card_chargeDeclined",
                                         "confirm": "true"}),
        get(http, "/customers/cus_missing"),
        get(http, "/customers", key="sk_test_unknown"),
        get(http, "/events", {"limit": 30}),
    ]  # fmt: skip
    assert [(answer.request.url.path, judged(answer)) for answer in answers if judged(answer)] == []


def test_a_subscriptions_period_lives_on_its_items(http: httpx.Client) -> None:
    """Since API version 2025-03-31.basil the billing period is the items'; cancelling at its end says when."""
    customer = post(http, "/customers", {}).json()
    price = post(
        http,
        "/prices",
        {"currency": "usd", "unit_amount": 500, "recurring[interval]": "week", "product_data[name]": "W"},
    ).json()
    created = post(http, "/subscriptions", {"customer": customer["id"], "items[0][price]": price["id"]})
    assert judged(created) == []
    item = created.json()["items"]["data"][0]
    assert "current_period_end" not in created.json()
    assert (item["plan"]["id"], item["plan"]["interval"]) == (price["id"], "week")
    updated = post(http, f"/subscriptions/{created.json()['id']}", {"cancel_at_period_end": "true"})
    assert judged(updated) == []
    assert updated.json()["cancel_at"] == item["current_period_end"]
    canceled = http.delete(f"/stripe/v1/subscriptions/{created.json()['id']}", headers=auth())
    assert judged(canceled) == []
