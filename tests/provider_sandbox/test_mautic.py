"""Mautic simulator over real HTTP: OAuth rotation, id-keyed listings, campaigns, segments, faults."""

from __future__ import annotations

import httpx
import pytest

from tests.provider_sandbox.helpers import fault
from tests.provider_sandbox.marketing_helpers import (
    MauticTokens,
    mautic_connect,
    mautic_get,
    mautic_send,
    mautic_token,
    unique,
)


@pytest.fixture
def mautic(http: httpx.Client) -> MauticTokens:
    return mautic_connect(http)


def error_of(response: httpx.Response) -> dict[str, object]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    return dict(errors[0])


def test_token_response_has_mautics_shape(mautic: MauticTokens) -> None:
    assert mautic.body["token_type"] == "bearer"
    assert mautic.body["expires_in"] == 3600
    assert mautic.body["scope"] is None


def test_refresh_rotates_and_the_old_refresh_token_is_invalid_grant(http: httpx.Client, mautic: MauticTokens) -> None:
    renewed = mautic_token(http, {"grant_type": "refresh_token", "refresh_token": mautic.refresh})
    assert renewed.status_code == 200
    new = renewed.json()
    assert new["refresh_token"] != mautic.refresh
    replay = mautic_token(http, {"grant_type": "refresh_token", "refresh_token": mautic.refresh})
    assert replay.status_code == 400
    assert error_of(replay)["type"] == "invalid_grant"
    assert mautic_get(http, new["access_token"], "/campaigns", limit=1).status_code == 200
    again = mautic_token(http, {"grant_type": "refresh_token", "refresh_token": new["refresh_token"]})
    assert again.status_code == 200


def test_wrong_client_secret_is_a_400_in_the_errors_list(http: httpx.Client, mautic: MauticTokens) -> None:
    response = mautic_token(http, {"grant_type": "refresh_token", "refresh_token": mautic.refresh}, secret="nope")
    assert (response.status_code, error_of(response)["type"]) == (400, "invalid_client")


def test_missing_expired_and_revoked_tokens_are_401(http: httpx.Client, mautic: MauticTokens) -> None:
    missing = http.get("/mautic/api/campaigns")
    assert (missing.status_code, error_of(missing)["type"]) == (401, "access_denied")
    http.post("/_sandbox/tokens/expire", json={"token": mautic.access})
    expired = mautic_get(http, mautic.access, "/campaigns")
    assert expired.status_code == 401
    assert error_of(expired) == {
        "message": "The access token provided has expired.",
        "code": 401,
        "type": "invalid_grant",
    }
    other = mautic_connect(http)
    http.post("/_sandbox/tokens/revoke", json={"token": other.access})
    revoked = mautic_get(http, other.access, "/campaigns")
    assert (revoked.status_code, error_of(revoked)["message"]) == (401, "The access token provided is invalid.")
    grants = http.get("/_sandbox/tokens", params={"provider": "mautic"}).json()
    assert any(g["access_tokens"][0]["revoked"] for g in grants)


def test_campaign_pages_are_id_keyed_objects_covering_each_campaign_once(
    http: httpx.Client, mautic: MauticTokens
) -> None:
    seen: list[int] = []
    start, total = 0, None
    while True:
        body = mautic_get(http, mautic.access, "/campaigns", start=start, limit=100).json()
        total = body["total"] if total is None else total
        if body["campaigns"] == []:  # PHP encodes an empty page as a list
            break
        assert isinstance(body["campaigns"], dict)
        assert all(key == str(item["id"]) for key, item in body["campaigns"].items())
        seen.extend(item["id"] for item in body["campaigns"].values())
        start += 100
    assert isinstance(total, int)
    assert total >= 550
    assert len(seen) == len(set(seen)) == total


def test_create_then_publish_a_campaign(http: httpx.Client, mautic: MauticTokens) -> None:
    name = unique("Spring launch")
    created = mautic_send(http, mautic.access, "POST", "/campaigns/new", {"name": name, "lists": [1]})
    assert created.status_code == 201
    campaign = created.json()["campaign"]
    assert (campaign["isPublished"], campaign["lists"][0]["id"]) == (False, 1)

    edited = mautic_send(http, mautic.access, "PATCH", f"/campaigns/{campaign['id']}/edit", {"isPublished": True})
    assert (edited.status_code, edited.json()["campaign"]["isPublished"]) == (200, True)
    fetched = mautic_get(http, mautic.access, f"/campaigns/{campaign['id']}").json()["campaign"]
    assert (fetched["name"], fetched["isPublished"]) == (name, True)
    assert fetched["dateModified"] is not None
    found = mautic_get(http, mautic.access, "/campaigns", search=name).json()
    assert (found["total"], list(found["campaigns"])) == (1, [str(campaign["id"])])
    state = http.get(f"/_sandbox/mautic/instances/default/campaigns/{campaign['id']}").json()
    assert state["isPublished"] is True


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/campaigns/new", {"description": "no name"}, 400, "name: A value is required."),
        ("POST", "/campaigns/new", {"name": "x", "isPublished": "maybe"}, 400, "isPublished: This value is not valid."),
        (
            "POST",
            "/campaigns/new",
            {"name": "x", "colour": "red"},
            400,
            "This form should not contain extra fields: colour.",
        ),
        ("PATCH", "/campaigns/99999999/edit", {"isPublished": True}, 404, "Item was not found."),
        ("GET", "/campaigns/not-a-number", None, 404, "Item was not found."),
        ("GET", "/campaigns", None, 400, None),  # unsortable column, see params below
    ],
)
def test_bad_input_gets_mautics_error_shape(
    http: httpx.Client, mautic: MauticTokens, method: str, path: str, body: object, status: int, message: str | None
) -> None:
    if message is None:
        response = mautic_get(http, mautic.access, path, orderBy="colour")
    else:
        response = mautic_send(http, mautic.access, method, path, body)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == status
    assert message is None or error["message"] == message


def test_adding_a_contact_to_a_segment_is_visible(http: httpx.Client, mautic: MauticTokens) -> None:
    created = mautic_send(http, mautic.access, "POST", "/segments/new", {"name": unique("VIP list")})
    assert created.status_code == 201
    segment = created.json()["list"]
    empty = mautic_get(http, mautic.access, "/contacts", search=f"segment:{segment['alias']}").json()
    assert empty == {"total": "0", "contacts": []}

    added = mautic_send(http, mautic.access, "POST", f"/segments/{segment['id']}/contact/7/add")
    assert (added.status_code, added.json()) == (200, {"success": 1})
    members = mautic_get(http, mautic.access, "/contacts", search=f"segment:{segment['alias']}").json()
    assert (members["total"], list(members["contacts"])) == ("1", ["7"])
    assert members["contacts"]["7"]["fields"]["all"]["email"]
    lists = mautic_get(http, mautic.access, "/contacts/7/segments").json()["lists"]
    assert str(segment["id"]) in lists
    state = http.get(f"/_sandbox/mautic/instances/default/segments/{segment['id']}").json()
    assert state["contact_ids"] == [7]
    missing = mautic_send(http, mautic.access, "POST", f"/segments/{segment['id']}/contact/99999999/add")
    assert missing.status_code == 404


def test_segment_listing_uses_the_lists_key(http: httpx.Client, mautic: MauticTokens) -> None:
    body = mautic_get(http, mautic.access, "/segments").json()
    assert body["total"] >= 4
    assert body["lists"]["1"]["alias"] == "newsletter-subscribers"


def test_faults_use_mautics_shapes(http: httpx.Client, mautic: MauticTokens) -> None:
    fault(http, provider="mautic", kind="rate_limit", retry_after=4)
    limited = mautic_get(http, mautic.access, "/campaigns")
    assert (limited.status_code, limited.headers["Retry-After"], limited.headers["X-RateLimit-Remaining"]) == (
        429,
        "4",
        "0",
    )
    assert limited.json()["errors"][0]["code"] == 429
    fault(http, provider="mautic", kind="error", status=502, path="/api/campaigns", page=2)
    statuses = [mautic_get(http, mautic.access, "/campaigns", start=s, limit=50).status_code for s in (0, 50, 100)]
    assert statuses == [200, 502, 200]
