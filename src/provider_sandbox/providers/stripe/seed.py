"""The deterministic seed of a Stripe account's history: customers, then charges an hour apart,
some of them refunded, built from the objects of objects.py.
"""

from __future__ import annotations

import random

from provider_sandbox.core.seed import SEED_ANCHOR
from provider_sandbox.providers.stripe.objects import TEST_CARDS, charge, customer, refund
from provider_sandbox.providers.stripe.store import Account

_SEED_CARDS = ("pm_card_visa",) * 8 + ("pm_card_mastercard", "pm_card_amex", "pm_card_chargeDeclined")


def seed_account(account: Account, customers: int, charges: int) -> None:
    """Deterministic history: `customers` customers, then `charges` charges an hour apart, oldest
    first (so creation order is time order); about one in six succeeded charges is (partly) refunded."""
    anchor = int(SEED_ANCHOR.timestamp())
    start = anchor - (charges + customers) * 3600
    customer_ids = []
    for i in range(customers):
        rng = random.Random(f"{account.id}:customer:{i}")  # noqa: S311 - reproducible, not secret
        name = f"{rng.choice(('Olivia', 'Jack', 'Mia', 'Noah', 'Ava', 'Leo'))} Customer {i + 1}"
        params = {"name": name, "email": f"customer{i + 1}@example.com", "metadata": {"seq": str(i + 1)}}
        customer_ids.append(account.add(customer(account, start + i * 3600, params, f"{account.id}/cus/{i}"))["id"])
    for i in range(charges):
        rng = random.Random(f"{account.id}:charge:{i}")  # noqa: S311
        method = rng.choice(_SEED_CARDS)
        obj = charge(
            start + (customers + i) * 3600,
            rng.randint(5, 2000) * 100 + rng.choice((0, 0, 50, 99)),
            "usd",
            TEST_CARDS[method],
            method,
            customer_id=rng.choice(customer_ids) if customer_ids else None,
            description=f"Seeded payment {i + 1}",
            metadata={"seq": str(i + 1)},
            seed=f"{account.id}/ch/{i}",
        )
        account.add(obj)
        if obj["status"] == "succeeded" and rng.random() < 1 / 6:
            amount = obj["amount"] if rng.random() < 0.5 else obj["amount"] // 2
            account.add(refund(obj["created"] + 60, obj, amount, {"reason": "requested_by_customer"}))
            obj["amount_refunded"], obj["refunded"] = amount, amount == obj["amount"]
