"""Steps of the Mautic scenarios (MAUTIC-01..06), on a Mautic instance of the scenario's own.

What the service reports is checked against the instance's own state (the sandbox's control API), never
against what the service itself said earlier. The instance's tenant id and the new campaign pass between
steps as fixtures (`target_fixture`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from steps.common import World, describe
from steps.providers.marketing_instances import (
    all_pages,
    assert_listed_once_each,
    assert_synced_everything,
    connect_mautic,
    expect,
    integration_of,
    mautic_campaign_count,
    mautic_grant,
    new_mautic_instance,
    owner,
    sync_campaigns,
)


@pytest.fixture
def mautic_instance() -> str:
    """The tenant id of the scenario's Mautic instance, made by its "a fresh Mautic instance" step."""
    pytest.fail('the scenario has no Mautic instance: it needs "Given a fresh Mautic instance holding …"')


def mautic_state(world: World, tenant_id: str, kind: str, item_id: int | str) -> dict[str, Any]:
    path = f"/mautic/instances/{tenant_id}/{kind}/{item_id}"
    return dict(expect(world.sandbox().get(path), 200, f"Mautic {kind} {item_id}"))


def mautic_base(world: World) -> str:
    return f"/api/integrations/mautic/{integration_of(world, 'Mautic')['id']}"


@given(parsers.parse("a fresh Mautic instance holding {campaigns:d} campaigns"), target_fixture="mautic_instance")
def a_fresh_mautic_instance(world: World, campaigns: int) -> str:
    return new_mautic_instance(world, campaigns)


@when(parsers.parse('"{name}" connects the Mautic instance through its consent page'))
@given(parsers.parse('"{name}" has connected the Mautic instance'))
def connect_the_mautic_instance(world: World, name: str, mautic_instance: str) -> None:
    world.integrations["Mautic"] = connect_mautic(world, world.user(name), mautic_instance)


@then("the Mautic integration is connected with an access and a refresh token, neither shown")
def mautic_connected(world: World) -> None:
    integration = integration_of(world, "Mautic")
    shown = (integration["integrationType"], integration["hasAccessToken"], integration["hasRefreshToken"])
    assert shown == ("MAUTIC", True, True), f"expected (MAUTIC, True, True), got {shown}"
    leaked = {"accessToken", "refreshToken", "access_token", "refresh_token"} & set(integration)
    assert not leaked, f"the callback's answer carries token fields: {sorted(leaked)}"
    expires = integration["tokenExpiresAt"]
    assert expires, "the integration has no tokenExpiresAt"
    assert datetime.fromisoformat(expires) > datetime.now(UTC), f"tokenExpiresAt is in the past: {expires!r}"


@then("Mautic shows one consent for the service on that instance, its first tokens unused and live")
def mautic_one_consent(world: World, mautic_instance: str) -> None:
    grant = mautic_grant(world, mautic_instance)
    access, refresh = grant["access_tokens"], grant["refresh_tokens"]
    assert [token["revoked"] for token in access] == [False], f"expected one live access token, got {access}"
    assert [token["current"] for token in refresh] == [True], f"expected one current refresh token, got {refresh}"


@then("the Mautic connection test passes")
def mautic_test_passes(world: World) -> None:
    integration = integration_of(world, "Mautic")
    body = expect(
        owner(world).client.post(f"/api/integrations/{integration['id']}/test"), 200, "the Mautic connection test"
    )
    assert body.get("ok") is True, f"expected ok true from the connection test, got {body}"


@when(parsers.parse('"{name}" tests the Mautic connection'))
def test_mautic(world: World, name: str) -> None:
    world.response = world.user(name).client.post(f"/api/integrations/{integration_of(world, 'Mautic')['id']}/test")


@when(parsers.parse('"{name}" syncs the Mautic campaigns'))
def sync_mautic(world: World, name: str) -> None:
    world.response = sync_campaigns(world.user(name), integration_of(world, "Mautic")["id"])


@then("the Mautic sync reports every campaign of the instance as synced")
def mautic_sync_complete(world: World, mautic_instance: str) -> None:
    assert_synced_everything(world.last_response(), mautic_campaign_count(world, mautic_instance))


def mautic_listed(world: World, **query: str) -> list[dict[str, Any]]:
    return all_pages(owner(world).client, f"{mautic_base(world)}/campaigns", "campaigns", **query)


@then("the service lists every campaign of the Mautic instance exactly once, with its name and published state")
def mautic_listed_once(world: World, mautic_instance: str) -> None:
    listed = mautic_listed(world)
    assert_listed_once_each(listed, "mauticCampaignId", mautic_campaign_count(world, mautic_instance))
    mismatches = []
    for campaign in listed:
        truth = mautic_state(world, mautic_instance, "campaigns", campaign["mauticCampaignId"])
        if (campaign["name"], campaign["isPublished"]) != (truth["name"], truth["isPublished"]):
            mismatches.append(f"{campaign['mauticCampaignId']}: {campaign['name']!r} vs {truth['name']!r}")
    assert not mismatches, f"{len(mismatches)} synced campaigns differ from Mautic: {mismatches[:5]}"


def create_mautic_campaign(world: World, name: str, segment_ids: list[int]) -> dict[str, Any]:
    title = f"QA welcome series {uuid.uuid4().hex[:8]}"
    created = world.user(name).client.post(
        f"{mautic_base(world)}/campaigns", json={"name": title, "segmentIds": segment_ids}
    )
    campaign: dict[str, Any] = expect(created, 201, "creating the Mautic campaign")["campaign"]
    assert (campaign["name"], campaign["isPublished"]) == (title, False), f"the service answered {campaign}"
    return campaign


@when(
    parsers.parse('"{name}" creates a Mautic campaign drawing on segments {first:d} and {second:d}'),
    target_fixture="mautic_campaign",
)
def create_mautic_with_segments(world: World, name: str, first: int, second: int) -> dict[str, Any]:
    return create_mautic_campaign(world, name, [first, second])


@given(parsers.parse('"{name}" has created an unpublished Mautic campaign'), target_fixture="mautic_campaign")
def has_created_mautic_campaign(world: World, name: str) -> dict[str, Any]:
    return create_mautic_campaign(world, name, [1])


@then(parsers.parse("Mautic holds the new campaign, unpublished, drawing on segments {first:d} and {second:d}"))
def mautic_holds_campaign(
    world: World, first: int, second: int, mautic_instance: str, mautic_campaign: dict[str, Any]
) -> None:
    campaign = mautic_campaign
    truth = mautic_state(world, mautic_instance, "campaigns", campaign["mauticCampaignId"])
    shown = (truth["name"], truth["isPublished"], sorted(segment["id"] for segment in truth["lists"]))
    assert shown == (campaign["name"], False, [first, second]), f"Mautic holds (name, published, segments) {shown}"


@then("the service lists the new Mautic campaign")
def mautic_lists_new(world: World, mautic_campaign: dict[str, Any]) -> None:
    campaign_id = mautic_campaign["mauticCampaignId"]
    ids = [item["mauticCampaignId"] for item in mautic_listed(world)]
    assert campaign_id in ids, f"the new campaign {campaign_id} is not listed"


@when(parsers.re(r'"(?P<name>[^"]+)" (?P<action>publishes|unpublishes) the Mautic campaign$'))
def publish_mautic(world: World, name: str, action: str, mautic_campaign: dict[str, Any]) -> None:
    campaign_id = mautic_campaign["mauticCampaignId"]
    published = action == "publishes"
    answered = world.user(name).client.post(
        f"{mautic_base(world)}/campaigns/{campaign_id}/publish", json={"isPublished": published}
    )
    shown = expect(answered, 200, f"{action[:-1]}ing the campaign")["campaign"]["isPublished"]
    assert shown is published, f"the service answered isPublished {shown}, expected {published}"


@then(parsers.re(r"Mautic shows the campaign as (?P<state>published|unpublished)$"))
def mautic_shows_published(world: World, state: str, mautic_instance: str, mautic_campaign: dict[str, Any]) -> None:
    truth = mautic_state(world, mautic_instance, "campaigns", mautic_campaign["mauticCampaignId"])
    assert truth["isPublished"] is (state == "published"), f"Mautic shows isPublished {truth['isPublished']}"


@then(parsers.re(r"the service lists it (?P<among>among|not among) the published Mautic campaigns$"))
def mautic_published_listing(world: World, among: str, mautic_campaign: dict[str, Any]) -> None:
    campaign_id = mautic_campaign["mauticCampaignId"]
    ids = [item["mauticCampaignId"] for item in mautic_listed(world, published="true")]
    assert (campaign_id in ids) is (among == "among"), f"campaign {campaign_id} should be {among} {ids[:20]}"


@given(parsers.parse("contacts {first:d} and {second:d} are not in Mautic segment {segment:d}"))
def contacts_not_in_segment(world: World, first: int, second: int, segment: int, mautic_instance: str) -> None:
    members = set(mautic_state(world, mautic_instance, "segments", segment)["contact_ids"])
    assert not {first, second} & members, f"precondition: contacts {first}, {second} already in segment {segment}"


@when(parsers.parse('"{name}" adds contacts {contacts} to Mautic segment {segment:d}'))
def add_to_segment(world: World, name: str, contacts: str, segment: int) -> None:
    ids = [int(part) for part in contacts.replace(" and ", ",").split(",")]
    world.response = world.user(name).client.post(
        f"{mautic_base(world)}/segments/{segment}/contacts", json={"contactIds": ids}
    )


@then(parsers.parse("Mautic segment {segment:d} holds contacts {first:d} and {second:d}"))
def segment_holds(world: World, segment: int, first: int, second: int, mautic_instance: str) -> None:
    body = expect(world.last_response(), 200, "adding the contacts")
    assert body == {"segmentId": segment, "addedContactIds": [first, second]}, f"the service answered {body}"
    members = set(mautic_state(world, mautic_instance, "segments", segment)["contact_ids"])
    assert {first, second} <= members, f"Mautic segment {segment} lacks contacts {first}, {second}"


@then(parsers.parse("the addition is refused naming contact {refused:d}, after adding contact {added:d}"))
def segment_refusal(world: World, refused: int, added: int) -> None:
    response = world.last_response()
    assert response.status_code == 422, f"expected 422 for an unknown contact: {describe(response)}"
    message = response.json()["error"]["message"]
    assert f"contact {refused}" in message, f"the refusal should name contact {refused}: {message!r}"
    assert f"added before it: [{added}]" in message, f"the refusal should say {added} was added: {message!r}"


@when("Mautic expires the access tokens it issued")
def expire_mautic_tokens(world: World, mautic_instance: str) -> None:
    mine = {"provider": "mautic", "tenant_id": mautic_instance}  # the scenario's instance only
    expired = expect(world.sandbox().post("/tokens/expire", json=mine), 200, "expire")["expired"]
    assert expired >= 1, "the sandbox expired no Mautic access token"


@then(parsers.parse("Mautic has rotated the integration's refresh token {times:d} times, the newest one unused"))
def mautic_rotated(world: World, times: int, mautic_instance: str) -> None:
    grant = mautic_grant(world, mautic_instance)
    refresh = grant["refresh_tokens"]
    states = [(token["rotated"], token["current"], token["revoked"]) for token in refresh]
    expected = [(True, False, False)] * times + [(False, True, False)]
    assert states == expected, f"Mautic's refresh tokens (rotated, current, revoked): {states}, expected {expected}"
    assert len(grant["access_tokens"]) == times + 1, f"expected {times + 1} access tokens issued"


@then("the Mautic integration is still connected")
def mautic_still_connected(world: World) -> None:
    integration = integration_of(world, "Mautic")
    shown = expect(owner(world).client.get(f"/api/integrations/{integration['id']}"), 200, "reading the integration")
    status = shown["integration"]["syncStatus"]
    assert status != "ERROR", f"the integration is in ERROR: {shown['integration']['syncError']!r}"
