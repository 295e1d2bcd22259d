"""Rate limits keyed on who the caller is: the verified user, else the client address (issue 13, #1).

Each test starts a service process of its own with a small limit, so the buckets are its alone.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.core.processes import ServerProcess
from integration_service.security.api_tokens import issue_token_at
from tests.fixtures.service import ApiUser

pytestmark = pytest.mark.db


def made_up_token() -> str:
    return f"isk_{secrets.token_urlsafe(32)}"


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


def token_lookups(client: httpx.Client, result: str) -> float:
    """How many API token lookups this service process made in its database, by result."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "integration_api_token_lookups_total" and sample.labels == {"result": result}:
                return sample.value
    return 0.0


def test_made_up_tokens_share_their_client_address_limit(service_factory: Callable[..., ServerProcess]) -> None:
    limited = service_factory(RATE_LIMIT="5/minute")
    with httpx.Client(base_url=limited.url) as client:
        answers = [
            client.get("/api/integrations", headers={"Authorization": f"Bearer {made_up_token()}"}) for _ in range(8)
        ]
        # No token at all shares the same bucket: the address is spent.
        anonymous = client.get("/api/integrations")
    assert statuses(answers) == [401] * 5 + [429] * 3
    assert anonymous.status_code == 429


def test_a_repeated_made_up_token_is_looked_up_once(service_factory: Callable[..., ServerProcess]) -> None:
    limited = service_factory(RATE_LIMIT="100/minute")
    forged = {"Authorization": f"Bearer {made_up_token()}"}
    with httpx.Client(base_url=limited.url) as client:
        before = token_lookups(client, "unknown")
        answers = [client.get("/api/integrations", headers=forged) for _ in range(20)]
        after = token_lookups(client, "unknown")
    assert statuses(answers) == [401] * 20
    assert after - before == 1


def test_the_spelling_of_the_scheme_buys_no_bucket(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser]
) -> None:
    limited = service_factory(RATE_LIMIT="5/minute")
    token = make_user().token
    with httpx.Client(base_url=limited.url) as client:
        answers = [
            client.get("/api/integrations", headers={"Authorization": f"{scheme} {token}"})
            for _ in range(3)
            for scheme in ("Bearer", "bearer", "BEARER")
        ]
    assert statuses(answers) == [200] * 5 + [429] * 4


def test_each_user_has_a_bucket_of_its_own(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser]
) -> None:
    limited = service_factory(RATE_LIMIT="3/minute")
    alice, bob = make_user().token, make_user().token
    with httpx.Client(base_url=limited.url) as client:
        alices = [client.get("/api/integrations", headers={"Authorization": f"Bearer {alice}"}) for _ in range(4)]
        bobs = client.get("/api/integrations", headers={"Authorization": f"Bearer {bob}"})
    assert statuses(alices) == [200, 200, 200, 429]
    assert bobs.status_code == 200


def burst(client: httpx.Client, token: str, requests: int) -> list[int]:
    return statuses(
        [client.get("/api/integrations", headers={"Authorization": f"Bearer {token}"}) for _ in range(requests)]
    )


def test_a_token_with_a_limit_of_its_own_counts_alone_at_that_limit(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser], database_url: str
) -> None:
    limited = service_factory(RATE_LIMIT="4/minute")
    user = make_user()
    raised = issue_token_at(database_url, user.name, "fuzz run", rate_limit="10/minute")
    other_raised = issue_token_at(database_url, user.name, "fuzz run", rate_limit="10/minute")
    with httpx.Client(base_url=limited.url) as client:
        assert burst(client, raised, 12) == [200] * 10 + [429] * 2  # more than the default's 4
        # A bucket of each token's own: the first one's spent window takes nothing from its user's others.
        assert burst(client, other_raised, 11) == [200] * 10 + [429]
        assert burst(client, user.token, 5) == [200] * 4 + [429]  # the user's ordinary token: the default


def test_a_revoked_token_with_a_raised_limit_gets_nothing(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser], database_url: str
) -> None:
    limited = service_factory(RATE_LIMIT="4/minute")
    user = make_user()
    raised = issue_token_at(database_url, user.name, "fuzz run", rate_limit="100/minute")
    with httpx.Client(base_url=limited.url) as client:
        assert burst(client, raised, 2) == [200, 200]  # verified, and its limit remembered for the limiter
        with psycopg.connect(database_url, autocommit=True) as sql:
            sql.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE rate_limit IS NOT NULL AND user_id = "
                "(SELECT id FROM users WHERE name = %s)",
                (user.name,),
            )
        # Found revoked on its next request; from then on it has no bucket of its own but counts against the
        # client address at the default (4, one spent by its first lookup): 3 more refusals, then 429.
        assert burst(client, raised, 6) == [401] * 4 + [429] * 2


def test_x_forwarded_for_is_ignored_unless_a_trusted_proxy_sent_it(
    service_factory: Callable[..., ServerProcess],
) -> None:
    untrusting = service_factory(RATE_LIMIT="3/minute")
    with httpx.Client(base_url=untrusting.url) as client:
        rotated = [client.get("/api/integrations", headers={"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(5)]
    assert statuses(rotated) == [401] * 3 + [429] * 2

    behind_proxy = service_factory(RATE_LIMIT="3/minute", TRUSTED_PROXIES="127.0.0.1")
    with httpx.Client(base_url=behind_proxy.url) as client:
        first = [client.get("/api/integrations", headers={"X-Forwarded-For": "203.0.113.1"}) for _ in range(4)]
        # The proxy appends the peer it saw: the rightmost untrusted address is the client.
        second = client.get("/api/integrations", headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.2"})
    assert statuses(first) == [401] * 3 + [429]
    assert second.status_code == 401


def test_a_revoked_token_stops_working_at_once(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser], database_url: str
) -> None:
    limited = service_factory(RATE_LIMIT="100/minute")
    user = make_user()
    with httpx.Client(base_url=limited.url, headers={"Authorization": f"Bearer {user.token}"}) as client:
        assert client.get("/api/integrations").status_code == 200
        with psycopg.connect(database_url, autocommit=True) as sql:
            sql.execute(
                "UPDATE api_tokens SET revoked_at = now() FROM users "
                "WHERE users.id = api_tokens.user_id AND users.name = %s",
                (user.name,),
            )
        before = token_lookups(client, "unknown")
        answers = [client.get("/api/integrations") for _ in range(5)]
        after = token_lookups(client, "unknown")
    assert statuses(answers) == [401] * 5
    assert after - before == 1  # found revoked once, then answered from memory


def test_every_process_shares_one_limit_through_redis(
    service_factory: Callable[..., ServerProcess], make_user: Callable[[], ApiUser]
) -> None:
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (CI's `-m db` run sets it): without Redis each process counts alone")
    shared = {"RATE_LIMIT": "4/minute", "REDIS_KEY_PREFIX": f"integrations:test-{uuid.uuid4().hex[:8]}"}
    first, second = service_factory(**shared), service_factory(**shared)
    token = make_user().token
    answers = []
    for process in (first, second, first, second, first, second):
        with httpx.Client(base_url=process.url, headers={"Authorization": f"Bearer {token}"}) as client:
            answers.append(client.get("/api/integrations"))
    assert statuses(answers) == [200] * 4 + [429] * 2
