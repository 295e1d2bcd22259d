"""Steps of the rollback checklist's integration issues (OPS-RB-INTEGRATION), on the stage's own service: a
provider outage, the alert naming the integration, disabling it, and a clean resync once the provider recovers.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import psycopg
from pytest_bdd import given, parsers, then, when

from harness.core.tls import client_verify
from harness.ops.monitor import evaluate
from steps.common import World, connect_account, describe
from steps.operations.smoke_tests import small_xero_organisation
from steps.support.lab import OpsLab, stage_target

# --- integration issues on the stage's own service (OPS-RB-INTEGRATION) ----------------------------------


@dataclass(frozen=True)
class SyncedXero:
    """The scenario's Xero integration on the stage: whose it is, and the sandbox organisation behind it."""

    integration: str  # its id
    tenant: str
    user: str  # as the scenario calls its owner


@given(
    parsers.parse('"{name}" has connected a Xero organisation of {invoices:d} invoices and synced them'),
    target_fixture="synced_xero",
)
def connected_and_synced(world: World, ops: OpsLab, name: str, invoices: int) -> SyncedXero:
    user = world.user(name)
    tenant = small_xero_organisation(world, invoices)
    integration = connect_account(world, user, "xero", tenant)
    synced = user.client.post(
        "/api/integrations/sync", json={"integrationId": integration["id"], "dataType": "invoices"}
    )
    assert synced.status_code == 200, f"the first sync: {describe(synced)}"
    return SyncedXero(integration=integration["id"], tenant=tenant, user=name)


@when("Xero fails every invoice request", target_fixture="xero_outage_fault")
def xero_outage(world: World, ops: OpsLab) -> str:
    fault = world.sandbox().post(
        "/faults", json={"provider": "xero", "kind": "error", "path": "/Invoices", "status": 503, "times": None}
    )
    assert fault.status_code in (200, 201), f"injecting the Xero outage: {describe(fault)}"
    fault_id = fault.json()["id"]
    sandbox, verify = world.sandbox_url(), client_verify(world.target.ca_bundle)
    ops.cleanups.append(lambda: httpx.delete(f"{sandbox}/_sandbox/faults/{fault_id}", verify=verify))
    return str(fault_id)


@when(parsers.parse('"{name}" syncs her Xero invoices {times:d} times'), target_fixture="outage_syncs")
def sync_times(world: World, ops: OpsLab, name: str, times: int, synced_xero: SyncedXero) -> list[httpx.Response]:
    client = world.user(name).client
    body = {"integrationId": synced_xero.integration, "dataType": "invoices"}
    return [client.post("/api/integrations/sync", json=body) for _ in range(times)]


@then("every one of those syncs was answered as stopped by the provider")
def syncs_stopped(ops: OpsLab, outage_syncs: list[httpx.Response]) -> None:
    answers = outage_syncs
    wrong = [describe(answer) for answer in answers if answer.status_code != 502]
    assert wrong == [], f"expected 502 (the provider stopped the run) for each sync: {wrong}"


@then(parsers.parse('the alert "{description}" names Ivy\'s Xero integration'))
def alert_names_integration(world: World, ops: OpsLab, description: str, synced_xero: SyncedXero) -> None:
    result = evaluate(stage_target(world))
    [alert] = [alert for alert in result.alerts if alert.description == description]
    named = [row for row in alert.rows if row.get("integration_id") == synced_xero.integration]
    assert alert.firing, f"expected {description!r} to fire"
    assert named, f"expected {description!r} to name {synced_xero.integration}: {alert.rows[:10]}"


@then("Ivy's sync logs show Xero's failure for the investigation")
def logs_show_failure(world: World, ops: OpsLab, synced_xero: SyncedXero) -> None:
    answer = world.user(synced_xero.user).client.get(
        "/api/integrations/logs", params={"integrationId": synced_xero.integration, "status": "failed"}
    )
    assert answer.status_code == 200, describe(answer)
    logs = answer.json()["logs"]
    assert len(logs) == 3, f"expected the 3 failed syncs in the logs: {describe(answer)}"
    assert all("503" in (log["errorMessage"] or "") for log in logs), f"the logs do not say why: {logs}"


@when("Ivy's Xero integration is disabled")
def disable_integration(world: World, ops: OpsLab, synced_xero: SyncedXero) -> None:
    answer = world.user(synced_xero.user).client.patch(
        f"/api/integrations/{synced_xero.integration}", json={"isActive": False}
    )
    assert answer.status_code == 200, describe(answer)
    assert answer.json()["integration"]["isActive"] is False, describe(answer)


@then("a sync of Ivy's Xero integration is refused while it is disabled")
def disabled_sync_refused(world: World, ops: OpsLab, synced_xero: SyncedXero) -> None:
    answer = world.user(synced_xero.user).client.post(
        "/api/integrations/sync", json={"integrationId": synced_xero.integration, "dataType": "invoices"}
    )
    assert answer.status_code == 409, f"expected a disabled integration's sync refused with 409: {describe(answer)}"


@when(parsers.parse("Xero recovers, having gained {added:d} invoices during the outage"))
def xero_recovers(world: World, ops: OpsLab, added: int, synced_xero: SyncedXero, xero_outage_fault: str) -> None:
    control = world.sandbox()
    removed = control.delete(f"/faults/{xero_outage_fault}")
    assert removed.status_code in (200, 204), describe(removed)
    mutated = control.post(f"/tenants/xero/{synced_xero.tenant}/mutations", json={"add": added})
    assert mutated.status_code in (200, 201), describe(mutated)


@when("Ivy's Xero integration is enabled again and synced by hand")
def enable_and_sync(world: World, ops: OpsLab, synced_xero: SyncedXero) -> None:
    client = world.user(synced_xero.user).client
    enabled = client.patch(f"/api/integrations/{synced_xero.integration}", json={"isActive": True})
    assert enabled.status_code == 200, describe(enabled)
    synced = client.post(
        "/api/integrations/sync", json={"integrationId": synced_xero.integration, "dataType": "invoices"}
    )
    assert synced.status_code == 200, f"the manual sync after the recovery: {describe(synced)}"


@then(parsers.parse("every one of the organisation's {invoices:d} invoices is stored once for Ivy"))
def every_invoice_once(world: World, ops: OpsLab, invoices: int, synced_xero: SyncedXero) -> None:
    with psycopg.connect(stage_target(world).database_url) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xero_invoice_id) FROM xero_invoices WHERE integration_id = %s",
            [synced_xero.integration],
        ).fetchone()
    assert row == (invoices, invoices), f"expected {invoices} invoices each stored once, got (rows, distinct) {row}"


# --- the same procedure on a deployed stage, on the scenario's own integration (no provider-wide fault) ---


@then("Ivy sees her Xero integration disabled")
def sees_disabled(world: World, ops: OpsLab, synced_xero: SyncedXero) -> None:
    client = world.user(synced_xero.user).client
    one = client.get(f"/api/integrations/{synced_xero.integration}")
    assert one.status_code == 200, describe(one)
    assert one.json()["integration"]["isActive"] is False, f"Ivy's integration is shown active: {describe(one)}"
    listed = client.get("/api/integrations")
    assert listed.status_code == 200, describe(listed)
    shown = [i for i in listed.json()["integrations"] if i["id"] == synced_xero.integration]
    assert [i["isActive"] for i in shown] == [False], f"Ivy's list shows her integration as {shown}"


@then(parsers.parse("Ivy's sync logs show the sync of her {invoices:d} invoices for the investigation"))
def logs_show_sync(world: World, ops: OpsLab, invoices: int, synced_xero: SyncedXero) -> None:
    answer = world.user(synced_xero.user).client.get(
        "/api/integrations/logs", params={"integrationId": synced_xero.integration}
    )
    assert answer.status_code == 200, describe(answer)
    logs = answer.json()["logs"]
    done = [log for log in logs if log["status"] == "success" and log["syncedRecords"] == invoices]
    assert done, f"expected the sync of {invoices} invoices in Ivy's logs: {describe(answer)}"


@when(parsers.parse("Xero gains {added:d} invoices while the integration is disabled"))
def xero_gains(world: World, ops: OpsLab, added: int, synced_xero: SyncedXero) -> None:
    mutated = world.sandbox().post(f"/tenants/xero/{synced_xero.tenant}/mutations", json={"add": added})
    assert mutated.status_code in (200, 201), describe(mutated)


@when(parsers.parse("{lost:d} of Ivy's stored invoices are lost and her Xero integration is resynced in full"))
def lose_and_resync(world: World, ops: OpsLab, lost: int, synced_xero: SyncedXero) -> None:
    with psycopg.connect(stage_target(world).database_url, autocommit=True) as connection:
        deleted = connection.execute(
            "DELETE FROM xero_invoices WHERE id IN (SELECT id FROM xero_invoices WHERE integration_id = %s LIMIT %s)",
            [synced_xero.integration, lost],
        ).rowcount
    assert deleted == lost, f"deleted {deleted} of Ivy's invoices, meant {lost}"
    synced = world.user(synced_xero.user).client.post(
        "/api/integrations/sync",
        json={"integrationId": synced_xero.integration, "dataType": "invoices", "fullResync": True},
    )
    assert synced.status_code == 200, f"the full resync: {describe(synced)}"
