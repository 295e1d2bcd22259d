"""Two writers at once on one integration, over real HTTP with real concurrency: neither loses the
other's write silently, and nothing answers 500."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest

from tests.fixtures.service import ApiUser

pytestmark = pytest.mark.db

ROUNDS = 15


def at_once(*requests: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Each request sent from its own thread, all released together."""
    start = threading.Barrier(len(requests))

    def send(request: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return request()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def new_integration(user: ApiUser, name: str) -> str:
    created = user.client.post("/api/integrations", json={"integrationType": "XERO", "integrationName": name})
    assert created.status_code == 201, created.text
    integration_id: str = created.json()["integration"]["id"]
    return integration_id


def test_two_patches_of_different_fields_both_land(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    path = f"/api/integrations/{new_integration(user, 'books')}"
    for round_ in range(ROUNDS):
        renamed, retargeted = at_once(
            partial(user.client.patch, path, json={"integrationName": f"books-{round_}"}),
            partial(user.client.patch, path, json={"customData": {"tenantId": f"t-{round_}"}}),
        )
        assert (renamed.status_code, retargeted.status_code) == (200, 200), (renamed.text, retargeted.text)
        final = user.client.get(path).json()["integration"]
        assert (final["integrationName"], final["customData"]) == (f"books-{round_}", {"tenantId": f"t-{round_}"}), (
            f"round {round_}: one writer's change was lost: {final}"
        )


def test_two_patches_from_the_same_read_one_wins_the_other_is_told(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    path = f"/api/integrations/{new_integration(user, 'books')}"
    for round_ in range(ROUNDS):
        etag = user.client.get(path).headers["ETag"]
        answers = at_once(
            *(
                partial(user.client.patch, path, json={"customData": {"tenantId": tenant}}, headers={"If-Match": etag})
                for tenant in (f"a-{round_}", f"b-{round_}")
            )
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200, 412], f"round {round_}: {[(a.status_code, a.text[:200]) for a in answers]}"
        winner = next(answer for answer in answers if answer.status_code == 200)
        loser = next(answer for answer in answers if answer.status_code == 412)
        assert loser.json()["error"]["code"] == "precondition_failed"
        assert loser.headers["ETag"] == winner.headers["ETag"]  # the version to read and retry from
        final = user.client.get(path)
        assert final.json()["integration"]["customData"] == winner.json()["integration"]["customData"]
        assert final.headers["ETag"] == winner.headers["ETag"]


def test_a_stale_if_match_is_refused_and_a_current_one_applies(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    path = f"/api/integrations/{new_integration(user, 'books')}"
    read = user.client.get(path).headers["ETag"]
    changed = user.client.patch(path, json={"isActive": False})
    assert changed.headers["ETag"] != read
    stale = user.client.patch(path, json={"integrationName": "late"}, headers={"If-Match": read})
    assert stale.status_code == 412, stale.text
    assert user.client.get(path).json()["integration"]["integrationName"] == "books"
    current = user.client.patch(path, json={"integrationName": "late"}, headers={"If-Match": changed.headers["ETag"]})
    assert current.status_code == 200, current.text
    assert user.client.patch(path, json={"integrationName": "any"}, headers={"If-Match": "*"}).status_code == 200


def test_a_patch_racing_a_delete_is_applied_or_not_found_never_an_error(make_user: Callable[[], ApiUser]) -> None:
    user = make_user()
    for round_ in range(ROUNDS):
        path = f"/api/integrations/{new_integration(user, f'doomed-{round_}')}"
        patched, deleted = at_once(
            partial(user.client.patch, path, json={"customData": {"tenantId": "late"}, "isActive": False}),
            partial(user.client.delete, path),
        )
        assert deleted.status_code == 204, deleted.text
        assert patched.status_code in (200, 404), patched.text
        assert user.client.get(path).status_code == 404  # the delete is never undone by the patch
    assert user.client.get("/api/integrations").json()["total"] == 0
