"""The coverage phase's bodies get the run's pinned identifiers (contract/fuzz_hooks.py): Schemathesis leaves
its parameter overrides out of that phase, so every case there was a 404 for a UUID of its own (issue 18)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from contract import fuzz_hooks
from harness.gates.fuzz import BODY_IDENTIFIERS_ENV
from harness.stack.fuzz_fixtures import FuzzFixtures

PINNED = "6f1c7a52-2f1e-4a4b-9a35-1b9a3d2f0c11"
ORDERS = "POST /api/integrations/paypal/orders"


def fixtures() -> FuzzFixtures:
    made = FuzzFixtures()
    made.pin(ORDERS, **{"body.integrationId": PINNED})
    made.pin("POST /api/integrations/stripe/refunds", **{"body.integrationId": PINNED, "body.paymentIntent": "pi_1"})
    made.pin("GET /api/integrations/{integration_id}", integration_id=PINNED)
    return made


def test_only_pinned_body_identifiers_are_handed_to_the_hook() -> None:
    assert fixtures().body_identifiers() == {
        ORDERS: {"integrationId": PINNED},
        "POST /api/integrations/stripe/refunds": {"integrationId": PINNED},
    }


def case(path: str, body: Any) -> Any:
    return SimpleNamespace(method="post", operation=SimpleNamespace(path=path), body=body)


@pytest.mark.parametrize(
    ("generated", "sent"),
    [
        ("e3e70682-c209-1cac-a29f-6fbed82c07cd", PINNED),  # a UUID of Schemathesis's own: the pinned one
        ("not-a-uuid", "not-a-uuid"),  # an invalid value stays, to be refused
        (17, 17),
        (None, None),
    ],
)
def test_a_generated_uuid_becomes_the_pinned_one_and_nothing_else_changes(
    monkeypatch: pytest.MonkeyPatch, generated: object, sent: object
) -> None:
    monkeypatch.setenv(BODY_IDENTIFIERS_ENV, json.dumps(fixtures().body_identifiers()))
    fuzz_hooks._pinned.cache_clear()
    body = {"integrationId": generated, "amount": "x"}
    fuzz_hooks.pin_identifiers(case("/api/integrations/paypal/orders", body))
    assert body == {"integrationId": sent, "amount": "x"}
    other = {"integrationId": generated}
    fuzz_hooks.pin_identifiers(case("/api/integrations/paypal/payments", other))  # not pinned: untouched
    assert other == {"integrationId": generated}
    fuzz_hooks._pinned.cache_clear()
