"""Stripe simulator over real HTTP, much of it driven by the official `stripe` SDK."""

from __future__ import annotations

import httpx
import pytest
import stripe

from harness.core.processes import ServerProcess
from tests.provider_sandbox.helpers import fault
from tests.provider_sandbox.stripe_helpers import (
    DEFAULT_KEY,
    SECONDARY_KEY,
    SEED_CHARGES,
    get,
    paid_intent,
    post,
    sdk,
)


@pytest.fixture(scope="module")
def client(sandbox_process: ServerProcess) -> stripe.StripeClient:
    return sdk(sandbox_process.url)


def test_paging_1200_charges_with_starting_after_visits_each_once(client: stripe.StripeClient) -> None:
    seen: list[str] = []
    params: dict[str, object] = {"limit": 100}
    pages = 0
    while True:
        page = client.v1.charges.list(params=params)  # type: ignore[arg-type]
        pages += 1
        seen.extend(charge.id for charge in page.data)
        if not page.has_more:
            break
        params = {"limit": 100, "starting_after": page.data[-1].id}
    seeded = [charge_id for charge_id in seen if charge_id]
    assert len(seeded) >= SEED_CHARGES
    assert len(set(seen)) == len(seen)  # exactly once each
    assert pages == -(-len(seen) // 100)


def test_list_envelope_order_and_cursors(http: httpx.Client) -> None:
    first = get(http, "/charges", {"limit": 3}).json()
    assert first["object"] == "list"
    assert first["url"] == "/v1/charges"
    assert first["has_more"] is True
    created = [c["created"] for c in first["data"]]
    assert created == sorted(created, reverse=True)  # newest first
    second = get(http, "/charges", {"limit": 3, "starting_after": first["data"][-1]["id"]}).json()
    back = get(http, "/charges", {"limit": 3, "ending_before": second["data"][0]["id"]}).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first["data"]]
    assert get(http, "/charges", {"limit": 101}).status_code == 400
    missing_cursor = get(http, "/charges", {"starting_after": "ch_nope"})
    assert missing_cursor.status_code == 404
    assert missing_cursor.json()["error"]["code"] == "resource_missing"


def test_created_filter(http: httpx.Client) -> None:
    page = get(http, "/charges", {"limit": 5}).json()["data"]
    pivot = page[2]["created"]
    newer = get(http, "/charges", {"created[gte]": pivot, "limit": 100}).json()
    assert {c["id"] for c in newer["data"]} >= {c["id"] for c in page[:3]}
    assert all(c["created"] >= pivot for c in newer["data"])
    bad = get(http, "/charges", {"created[since]": pivot})
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"


def test_wrong_or_missing_key_is_401_in_stripes_envelope(http: httpx.Client, sandbox_process: ServerProcess) -> None:
    response = get(http, "/customers", key="sk_test_not_a_real_key_1234")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "1234" in error["message"]
    assert "not_a_real" not in error["message"]  # the key is masked
    assert http.get("/stripe/v1/customers").status_code == 401
    with pytest.raises(stripe.AuthenticationError):
        sdk(sandbox_process.url, "sk_test_wrong").v1.customers.list()


def test_accounts_are_isolated_by_key(http: httpx.Client) -> None:
    customer = post(http, "/customers", {"email": "iso@example.com"}).json()
    other = get(http, f"/customers/{customer['id']}", key=SECONDARY_KEY)
    assert other.status_code == 404
    assert get(http, "/charges", {"limit": 100}, key=SECONDARY_KEY).json()["has_more"] is False


def test_customer_crud_with_the_sdk_and_nested_metadata(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={"email": "ada@example.com", "name": "Ada", "metadata": {"crm_id": "42", "tier": "gold"}}
    )
    assert customer.id.startswith("cus_")
    assert customer.metadata is not None
    assert customer.metadata["crm_id"] == "42"
    updated = client.v1.customers.update(customer.id, params={"metadata": {"tier": ""}, "name": "Ada L."})
    assert updated.name == "Ada L."
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"crm_id": "42"}
    found = client.v1.customers.list(params={"email": "ada@example.com"})
    assert [c.id for c in found.data] == [customer.id]
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.customers.retrieve(customer.id)
    assert error.value.http_status == 404
    assert error.value.code == "resource_missing"


def test_payment_intent_succeeds_with_visa_and_creates_a_charge(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "pay@example.com"})
    intent = client.v1.payment_intents.create(
        params={"amount": 2599, "currency": "usd", "customer": customer.id, "metadata": {"order": "A-1"}}
    )
    assert intent.status == "requires_payment_method"
    confirmed = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 2599
    charge = client.v1.charges.retrieve(str(confirmed.latest_charge))
    assert (charge.status, charge.paid, charge.amount, charge.customer) == ("succeeded", True, 2599, customer.id)
    assert charge.payment_intent == intent.id
    expanded = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge", "customer"]})
    assert expanded.latest_charge.id == charge.id  # type: ignore[union-attr]
    assert expanded.customer.email == "pay@example.com"  # type: ignore[union-attr]
    listed = client.v1.charges.list(params={"payment_intent": intent.id})
    assert [c.id for c in listed.data] == [charge.id]


def test_declined_card_is_a_402_card_error_and_a_failed_charge(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": True}
        )
    error = raised.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    body = error.json_body["error"]  # type: ignore[index]
    assert body["decline_code"] == "generic_decline"
    assert body["payment_intent"]["status"] == "requires_payment_method"
    charge = client.v1.charges.retrieve(body["charge"])
    assert (charge.status, charge.paid, charge.failure_code) == ("failed", False, "card_declined")


def test_unknown_payment_method_and_bad_amount_are_400(http: httpx.Client) -> None:
    response = post(
        http, "/payment_intents", {"amount": 100, "currency": "usd", "payment_method": "pm_x", "confirm": "true"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "payment_method"
    bad = post(http, "/payment_intents", {"amount": "ten", "currency": "usd"})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "amount")
    missing = post(http, "/payment_intents", {"currency": "usd"})
    assert missing.json()["error"]["code"] == "parameter_missing"
    clash = post(http, "/customers", {"metadata": "x", "metadata[a]": "b"})
    assert clash.status_code == 400


def test_partial_then_full_refund_on_charge_and_payment_intent(client: stripe.StripeClient, http: httpx.Client) -> None:
    intent = paid_intent(http, 10_000)
    charge_id = intent["latest_charge"]
    partial = client.v1.refunds.create(params={"charge": charge_id, "amount": 2_500})
    assert (partial.amount, partial.status, partial.charge) == (2_500, "succeeded", charge_id)
    charge = client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (2_500, False)
    rest = client.v1.refunds.create(params={"payment_intent": intent["id"]})
    assert rest.amount == 7_500
    charge = client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (10_000, True)
    refunds = client.v1.refunds.list(params={"charge": charge_id})
    assert [r.id for r in refunds.data] == [rest.id, partial.id]
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"charge": charge_id})
    assert again.value.code == "charge_already_refunded"


def test_refund_larger_than_the_charge_is_refused(http: httpx.Client) -> None:
    intent = paid_intent(http, 1_000)
    response = post(http, "/refunds", {"charge": intent["latest_charge"], "amount": 1_001})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "amount"


def test_subscriptions_create_list_and_cancel(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "sub@example.com"})
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Pro"},
        }
    )
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id, "quantity": 2}], "metadata": {"plan": "pro"}}
    )
    assert sub.status == "active"
    assert sub["items"].data[0].price.id == price.id
    assert sub["items"].data[0].quantity == 2
    listed = client.v1.subscriptions.list(params={"customer": customer.id})
    assert [s.id for s in listed.data] == [sub.id]
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None
    assert client.v1.subscriptions.list(params={"customer": customer.id}).data == []
    everything = client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"})
    assert [s.id for s in everything.data] == [sub.id]


def test_subscription_needs_a_recurring_price(http: httpx.Client) -> None:
    customer = post(http, "/customers", {}).json()
    one_time = post(http, "/prices", {"currency": "usd", "unit_amount": 100, "product_data[name]": "Once"}).json()
    response = post(http, "/subscriptions", {"customer": customer["id"], "items[0][price]": one_time["id"]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "items[0][price]"


def test_idempotency_key_replays_and_rejects_other_params(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "order-77"}
    first = post(http, "/customers", {"email": "idem@example.com"}, headers=headers)
    again = post(http, "/customers", {"email": "idem@example.com"}, headers=headers)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = post(http, "/customers", {"email": "other@example.com"}, headers=headers)
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    listed = get(http, "/customers", {"email": "idem@example.com"}).json()["data"]
    assert len(listed) == 1


def test_faults_render_as_stripe_errors(http: httpx.Client, sandbox_process: ServerProcess) -> None:
    fault(http, provider="stripe", kind="rate_limit", path="/v1/customers")
    limited = get(http, "/customers")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit"
    fault(http, provider="stripe", kind="error", status=503, path="/v1/customers")
    with pytest.raises(stripe.APIError) as error:
        sdk(sandbox_process.url).v1.customers.list()
    assert error.value.http_status == 503
    assert get(http, "/nowhere").json()["error"]["type"] == "invalid_request_error"
    assert get(http, "/nowhere").status_code == 404


def test_sdk_retries_an_injected_500_with_the_same_idempotency_key(
    http: httpx.Client, sandbox_process: ServerProcess
) -> None:
    fault(http, provider="stripe", kind="error", status=500, path="/v1/customers", method="POST")
    # After a sandbox reset (another test's) nothing may be recorded yet: start from sequence 0 then.
    since = max(
        (call["seq"] for call in http.get("/_sandbox/requests", params={"provider": "stripe"}).json()), default=0
    )
    customer = sdk(sandbox_process.url, retries=2).v1.customers.create(params={"email": "retry@example.com"})
    assert customer.email == "retry@example.com"
    calls = http.get("/_sandbox/requests", params={"provider": "stripe", "since_seq": since}).json()
    posts = [c for c in calls if c["method"] == "POST"]
    assert [c["status"] for c in posts] == [500, 200]
    assert posts[0]["headers"]["idempotency-key"] == posts[1]["headers"]["idempotency-key"]
    assert DEFAULT_KEY not in str(calls)  # recorded with a hint only
