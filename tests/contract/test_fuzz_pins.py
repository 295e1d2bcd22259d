"""The coverage phase's bodies get the run's pinned identifiers (contract/fuzz_hooks.py): Schemathesis leaves
its parameter overrides out of that phase, so every case there was a 404 for a UUID of its own (issue 18)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from contract import fuzz_hooks
from harness.gates.fuzz import BODY_IDENTIFIERS_ENV, FRESH_DELETES_ENV
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


def delete_case(integration_id: object, phase: str) -> Any:
    meta = SimpleNamespace(phase=SimpleNamespace(name=phase))
    operation = SimpleNamespace(path="/api/integrations/{integration_id}")
    return SimpleNamespace(
        method="delete", operation=operation, path_parameters={"integration_id": integration_id}, _meta=meta
    )


@pytest.mark.parametrize(
    ("flag", "integration_id", "phase"),
    [
        ("", PINNED, "fuzzing"),  # the run did not ask (staging: a deployed stage's database)
        ("1", PINNED, "stateful"),  # the chain deletes what it created
        ("1", "not-a-uuid", "coverage"),  # an invalid id stays, to be refused
    ],
)
def test_a_delete_keeps_its_generated_id_unless_a_fresh_integration_is_asked_for(
    monkeypatch: pytest.MonkeyPatch, flag: str, integration_id: str, phase: str
) -> None:
    """The hook's other side (a UUID replaced by an integration made for the DELETE) is proved by the fuzz
    gate's reach: that operation is judged with no exception (contract/fuzz_reach.toml)."""
    monkeypatch.setenv(FRESH_DELETES_ENV, flag)
    case = delete_case(integration_id, phase)
    fuzz_hooks.delete_a_fresh_integration(case)  # no service here: any request would fail the test
    assert case.path_parameters == {"integration_id": integration_id}
