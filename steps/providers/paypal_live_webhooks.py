"""PayPal's webhook events on a deployed stage (PAYPAL-05a..d on staging).

On the local stage a scenario has PayPal deliver to a copy of the service whose webhook gets nothing else
(steps/providers/paypal_integration.py). On a deployed stage the webhook under test is the stage's own: PayPal signs
for the stage's webhook id (QA_PAYPAL_WEBHOOK_ID) and delivers every event to it live, in the background,
as soon as it happens. So these steps wait for PayPal's live deliveries (the sandbox's drain), read what
the stage's webhook answered to each delivery of the scenario's event from the sandbox's delivery record,
and then have PayPal deliver the same event again, on demand, signed for the stage's webhook.

An event that reaches the service before the row it names is stored (a subscription's CREATED event,
sent while the service is still storing the subscription) is held as "unmatched" and taken up again when
it is redelivered: the service's documented behaviour. Only such answers may come before the one answer
that takes the event as new; every delivery after it must be acknowledged as a duplicate.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from steps.common import World, describe
from steps.providers.paypal_integration import settle_live_deliveries
from steps.providers.paypal_webhooks import _paypal_event
from steps.support.payments import PaymentObjects, as_response, deliver_event, need_sandbox_url

HELD_UNTIL_REDELIVERED = "unmatched"


def stage_webhook_id(world: World) -> str:
    webhook_id = world.target.paypal_webhook_id
    if not webhook_id:
        pytest.fail("the stage's PayPal webhook id (QA_PAYPAL_WEBHOOK_ID / PAYPAL_WEBHOOK_ID) is not set")
    return webhook_id


def _deliveries(world: World, event_id: str) -> list[dict[str, Any]]:
    """Every attempt PayPal made to deliver the event to the stage's webhook, oldest first."""
    answer = world.sandbox().get(
        "/paypal/webhooks/deliveries", params={"endpoint_id": stage_webhook_id(world), "event_id": event_id}
    )
    assert answer.status_code == 200, f"PayPal's delivery record: {describe(answer)}"
    attempts: list[dict[str, Any]] = answer.json()
    return sorted(attempts, key=lambda attempt: int(attempt["seq"]))


@given("PayPal has made its live deliveries to the stage's webhook")
def paypal_live_deliveries_made(world: World, payments: PaymentObjects) -> None:
    need_sandbox_url(world.target)
    assert payments.service is None, "this step is about the stage's own webhook, not a copy's"
    settle_live_deliveries(world, payments)


@when(
    parsers.re(
        r"PayPal delivers its (?P<event>[A-Z_.]+) event about the (?P<record>payment|subscription) "
        r"to the stage's webhook twice more$"
    ),
    target_fixture="live_deliveries",
)
def paypal_redeliver_to_stage(world: World, payments: PaymentObjects, event: str, record: str) -> int:
    event_id = _paypal_event(world, payments, event, record)
    live = _deliveries(world, event_id)
    assert live, (
        f"PayPal never delivered {event} {event_id} live to the stage's webhook {stage_webhook_id(world)}: "
        "the stage's PayPal webhook does not receive PayPal's events"
    )
    for _ in range(2):
        deliver_event(world, "paypal", stage_webhook_id(world), event_id)
    return len(live)  # PayPal's own deliveries before the two more


def _answer(attempt: dict[str, Any]) -> str:
    response = as_response(attempt)
    assert response.status_code == 200, f"the stage's webhook refused PayPal's delivery: {describe(response)}"
    body = response.json()
    if body.get("duplicate") is True:
        return "duplicate"
    assert body.get("received") is True, f"the stage's webhook did not take the event: {describe(response)}"
    return str(body.get("outcome"))


@then(
    parsers.re(
        r'the stage\'s webhook took the event as new and "(?P<outcome>\w+)" once, '
        r"and every later delivery of it as a duplicate$"
    )
)
def paypal_stage_took_once(world: World, payments: PaymentObjects, live_deliveries: int, outcome: str) -> None:
    event_id = payments.need("event_id")
    attempts = _deliveries(world, event_id)
    answers = [_answer(attempt) for attempt in attempts]
    assert len(attempts) == live_deliveries + 2, f"deliveries of {event_id} recorded: {answers}"
    held = 0  # answers that held the event until a redelivery (never when "unmatched" is the outcome named)
    while outcome != HELD_UNTIL_REDELIVERED and held < len(answers) - 1 and answers[held] == HELD_UNTIL_REDELIVERED:
        held += 1
    taken, later = answers[held], answers[held + 1 :]
    assert taken == outcome, f"expected the event taken as new and {outcome!r}; the answers, in order: {answers}"
    assert later, f"no delivery came after the one that took the event; the answers, in order: {answers}"
    assert all(answer == "duplicate" for answer in later), (
        f"every delivery after the one that took the event must be a duplicate; the answers, in order: {answers}"
    )
