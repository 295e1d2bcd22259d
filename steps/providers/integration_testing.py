"""Steps of the integration-testing scenarios (INT-01..05): several integrations side by side.

Each integration of a scenario sits on a provider account of its own, made in the sandbox (a Xero
organisation, a Stripe account, a BillionMail or Mautic instance), so "every record of its provider"
is an exact number whatever other scenarios left behind. Every sync's answer is kept, so the sync
history can be checked against what each run really answered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from harness.core.tls import client_verify
from steps.common import ApiUser, World, connect_account, describe, error_code
from steps.providers.marketing_instances import (
    billionmail_campaign_count,
    create_billionmail,
    expect,
    mautic_campaign_count,
    new_billionmail_instance,
    new_mautic_instance,
    owner,
)

LIST_PATHS = {"BillionMail": "/batch_mail/task/list", "Mautic": "/api/campaigns"}  # what a campaigns sync reads


@dataclass(frozen=True)
class Linked:
    """One of the scenario's integrations and the provider account behind it."""

    label: str
    provider: str  # Xero | Stripe | BillionMail | Mautic
    integration_id: str
    account_id: str  # the sandbox's tenant, account or instance id
    data_type: str  # what a sync of it fetches
    records_path: str  # the service's read route for what the sync stored


@dataclass
class LinkedIntegrations:
    """The scenario's integrations by label, and the answers to each one's syncs, oldest first."""

    linked: dict[str, Linked] = field(default_factory=dict)
    sync_answers: dict[str, list[httpx.Response]] = field(default_factory=dict)

    def get(self, label: str) -> Linked:
        found = self.linked.get(label)
        assert found is not None, f"the scenario has no integration called {label}"
        return found

    def answers(self, label: str) -> list[httpx.Response]:
        found = self.sync_answers.get(label, [])
        assert found, f"{label} was not synced in this scenario"
        return found


@pytest.fixture
def linked_integrations() -> LinkedIntegrations:
    return LinkedIntegrations()


def labels_of(text: str) -> list[str]:
    """'Books, Payments and Newsletter' -> the three labels."""
    return [part.strip() for part in text.replace(" and ", ", ").split(",") if part.strip()]


# --- connecting each provider on an account of its own -------------------------------------------


def _xero(world: World, user: ApiUser, label: str, records: int) -> Linked:
    body = {"provider": "xero", "invoices": records, "contacts": 5, "name": f"QA {label} {uuid.uuid4().hex[:6]}"}
    tenant_id = expect(world.sandbox().post("/tenants", json=body), 201, "a new Xero organisation")["tenant_id"]
    integration = connect_account(world, user, "xero", tenant=tenant_id, integrationName=label)
    return Linked(label, "Xero", integration["id"], tenant_id, "invoices", "/api/integrations/xero/invoices")


def _stripe(world: World, user: ApiUser, label: str, records: int) -> Linked:
    account = expect(world.sandbox().post("/stripe/accounts", json={"charges": records}), 201, "a new Stripe account")
    created = user.client.post(
        "/api/integrations",
        json={"integrationType": "STRIPE", "integrationName": label, "apiKey": account["secret_key"]},
    )
    integration = expect(created, 201, "connecting Stripe")["integration"]
    return Linked(label, "Stripe", integration["id"], account["id"], "payments", "/api/integrations/stripe/payments")


def _billionmail(world: World, user: ApiUser, label: str, records: int) -> Linked:
    instance = new_billionmail_instance(world, records)
    integration = expect(create_billionmail(world, user, instance.api_key, label), 201, "connecting BillionMail")
    integration_id = integration["integration"]["id"]
    path = f"/api/integrations/billionmail/{integration_id}/campaigns"
    return Linked(label, "BillionMail", integration_id, instance.tenant_id, "campaigns", path)


def _mautic(world: World, user: ApiUser, label: str, records: int) -> Linked:
    tenant_id = new_mautic_instance(world, records)
    integration = connect_account(world, user, "mautic", tenant=tenant_id, integrationName=label)
    path = f"/api/integrations/mautic/{integration['id']}/campaigns"
    return Linked(label, "Mautic", integration["id"], tenant_id, "campaigns", path)


CONNECTORS: dict[str, Callable[[World, ApiUser, str, int], Linked]] = {
    "Xero": _xero,
    "Stripe": _stripe,
    "BillionMail": _billionmail,
    "Mautic": _mautic,
}


def provider_records(world: World, item: Linked) -> int:
    """How many records the provider account holds now, as the sandbox itself counts them."""
    control = world.sandbox()
    if item.provider == "BillionMail":
        return billionmail_campaign_count(world, item.account_id)
    if item.provider == "Mautic":
        return mautic_campaign_count(world, item.account_id)
    if item.provider == "Xero":
        tenants = expect(control.get("/tenants", params={"provider": "xero"}), 200, "Xero organisations")
        return int(next(t["invoices"] for t in tenants if t["tenant_id"] == item.account_id))
    accounts = expect(control.get("/stripe/accounts"), 200, "Stripe accounts")
    return int(next(a["charges"] for a in accounts if a["id"] == item.account_id))


def stored_records(user: ApiUser, item: Linked) -> int:
    """How many records the service holds for the integration (rows, so duplicates would count)."""
    params: dict[str, str | int] = {"limit": 1}
    if item.provider not in ("BillionMail", "Mautic"):  # their read routes name the integration in the path
        params["integrationId"] = item.integration_id
    return int(
        expect(user.client.get(item.records_path, params=params), 200, f"reading {item.label}'s records")["total"]
    )


@given(parsers.parse('"{name}" has these integrations, each on a provider account of its own:'))
def has_integrations(
    world: World, linked_integrations: LinkedIntegrations, name: str, datatable: list[list[str]]
) -> None:
    user = world.user(name)
    header, *rows = datatable
    assert header == ["integration", "provider", "records"], f"unexpected table columns {header}"
    for label, provider, records in rows:
        assert provider in CONNECTORS, f"no way to connect {provider}; known: {sorted(CONNECTORS)}"
        item = CONNECTORS[provider](world, user, label, int(records))
        linked_integrations.linked[label] = item
        world.integrations[label] = {"id": item.integration_id}


# --- syncing -------------------------------------------------------------------------------------


def sync_body(item: Linked) -> dict[str, str]:
    return {"integrationId": item.integration_id, "dataType": item.data_type}


def record_answer(world: World, linked_integrations: LinkedIntegrations, label: str, response: httpx.Response) -> None:
    linked_integrations.sync_answers.setdefault(label, []).append(response)
    world.response = response


def sync_at_once(world: World, linked_integrations: LinkedIntegrations, name: str, items: list[Linked]) -> None:
    """One thread and one connection per sync, released together, so the runs overlap at the service."""
    user = world.user(name)
    clients = [world.client(headers={"Authorization": f"Bearer {user.token}"}) for _ in items]
    start = threading.Barrier(len(items))
    results: list[httpx.Response | BaseException] = [RuntimeError("not run")] * len(items)

    def run(index: int) -> None:
        try:
            start.wait(timeout=30)
            results[index] = clients[index].post("/api/integrations/sync", json=sync_body(items[index]))
        except BaseException as exc:  # reported below, in the scenario's thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for item, result in zip(items, results, strict=True):
        if isinstance(result, BaseException):
            pytest.fail(f"the sync of {item.label} did not get an answer: {result!r}")
        record_answer(world, linked_integrations, item.label, result)


@given(parsers.re(r'"(?P<name>[^"]+)" has synced (?P<label>\w+)$'))
@when(parsers.re(r'"(?P<name>[^"]+)" runs a sync of (?P<label>\w+)$'))
def run_a_sync(world: World, linked_integrations: LinkedIntegrations, name: str, label: str) -> None:
    item = linked_integrations.get(label)
    record_answer(
        world, linked_integrations, label, world.user(name).client.post("/api/integrations/sync", json=sync_body(item))
    )


@when(parsers.re(r'"(?P<name>[^"]+)" runs syncs of (?P<labels>\w+(?:, \w+)* and \w+) at the same time$'))
def run_syncs_at_once(world: World, linked_integrations: LinkedIntegrations, name: str, labels: str) -> None:
    sync_at_once(world, linked_integrations, name, [linked_integrations.get(label) for label in labels_of(labels)])


@when(parsers.re(r'"(?P<name>[^"]+)" runs two syncs of (?P<label>\w+) at the same time$'))
def run_two_syncs_at_once(world: World, linked_integrations: LinkedIntegrations, name: str, label: str) -> None:
    item = linked_integrations.get(label)
    sync_at_once(world, linked_integrations, name, [item, item])


def assert_complete(world: World, item: Linked, response: httpx.Response) -> None:
    expected = provider_records(world, item)
    result = expect(response, 200, f"the sync of {item.label}")["result"]
    counts = (result["status"], result["totalRecords"], result["syncedRecords"], result["failedRecords"])
    assert counts == ("success", expected, expected, 0), (
        f"the sync of {item.label}: expected (status, total, synced, failed) ('success', {expected}, {expected}, 0), "
        f"got {counts}"
    )


@then(
    parsers.re(
        r"the syncs? of (?P<labels>\w+(?:(?:, | and )\w+)*) (?:each )?succeeds? with every record of (?:its|their) "
        r"provider$"
    )
)
def syncs_complete(world: World, linked_integrations: LinkedIntegrations, labels: str) -> None:
    for label in labels_of(labels):
        assert_complete(world, linked_integrations.get(label), linked_integrations.answers(label)[-1])


@then(parsers.re(r"the sync of (?P<label>\w+) is stopped by the provider and answered 502$"))
def sync_stopped(world: World, linked_integrations: LinkedIntegrations, label: str) -> None:
    response = linked_integrations.answers(label)[-1]
    result = expect(response, 502, f"the sync of {label} against a failing provider")["result"]
    assert result["status"] in ("failed", "partial"), f"a stopped run must not say {result['status']!r}"
    assert result["errors"], f"the stopped run of {label} names no error: {result}"


@then(
    parsers.re(
        r"one sync of (?P<label>\w+) succeeded with every record, and the other succeeded too or was turned away "
        r'with 409 "conflict"$'
    )
)
def one_ran_other_refused(world: World, linked_integrations: LinkedIntegrations, label: str) -> None:
    item = linked_integrations.get(label)
    both = linked_integrations.answers(label)
    assert len(both) == 2, f"expected two syncs of {label}, got {len(both)}"
    statuses = sorted(response.status_code for response in both)
    assert statuses in ([200, 200], [200, 409]), f"two syncs at once answered {[describe(r) for r in both]}"
    for response in both:
        if response.status_code == 409:
            assert error_code(response) == "conflict", f"expected code conflict: {describe(response)}"
        else:
            assert_complete(world, item, response)


@then(parsers.re(r"(?P<labels>\w+(?:(?:, | and )\w+)*) (?:each )?holds? exactly (?:its|their) provider's records$"))
def holds_exactly(world: World, linked_integrations: LinkedIntegrations, labels: str) -> None:
    for label in labels_of(labels):
        item = linked_integrations.get(label)
        expected, stored = provider_records(world, item), stored_records(owner(world), item)
        assert stored == expected, f"{label} holds {stored} records; its provider account has {expected}"


@then(parsers.re(r'(?P<labels>\w+(?:(?:, | and )\w+)*) (?:each )?shows? the sync status "(?P<status>\w+)"$'))
def shows_sync_status(world: World, linked_integrations: LinkedIntegrations, labels: str, status: str) -> None:
    for label in labels_of(labels):
        shown = expect(
            owner(world).client.get(f"/api/integrations/{linked_integrations.get(label).integration_id}"), 200, label
        )
        integration = shown["integration"]
        assert integration["syncStatus"] == status, (
            f"{label}: expected syncStatus {status}, got {integration['syncStatus']} ({integration['syncError']!r})"
        )


# --- faults at a provider ------------------------------------------------------------------------


def add_fault(world: World, request: pytest.FixtureRequest, rule: dict[str, Any]) -> None:
    """A sandbox fault rule, removed when the scenario ends (pass or fail): the sandbox is shared."""
    control = world.sandbox()
    fault_id = expect(control.post("/faults", json=rule), 201, "adding a sandbox fault")["id"]
    base_url = str(control.base_url)

    def remove() -> None:
        with httpx.Client(base_url=base_url, timeout=30, verify=client_verify(world.target.ca_bundle)) as cleanup:
            cleanup.delete(f"/faults/{fault_id}")

    request.addfinalizer(remove)


@given(
    parsers.re(
        r"(?P<provider>BillionMail|Mautic) fails every request for (?:page (?P<page>\d+) of )?its campaign list$"
    )
)
def provider_fails(world: World, request: pytest.FixtureRequest, provider: str, page: str | None) -> None:
    rule: dict[str, Any] = {
        "provider": provider.lower(),
        "kind": "error",
        "status": 503,
        "path": LIST_PATHS[provider],
        "times": None,
    }
    if page is not None:
        rule["page"] = int(page)
    add_fault(world, request, rule)


@given(parsers.parse("BillionMail answers page {page:d} of its campaign list only after {delay:d} ms"))
def billionmail_slow(world: World, request: pytest.FixtureRequest, page: int, delay: int) -> None:
    rule = {"provider": "billionmail", "kind": "delay", "delay_ms": delay, "path": LIST_PATHS["BillionMail"]}
    add_fault(world, request, {**rule, "page": page, "times": None})
