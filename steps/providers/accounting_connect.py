"""Steps of the accounting scenarios (Xero, MYOB, QuickBooks Online against the provider sandbox): the
organisations a scenario makes, its connections through the real OAuth flow, its syncs and the provider-side
events (expired or revoked tokens, changed invoices). Their checks are in accounting_checks.py.

Every scenario makes its own organisation / company file / company at the sandbox, so the tokens, requests and
records it looks at are its own.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from pytest_bdd import given, parsers, when

from harness.stack.oauth import start_in_browser
from steps.common import ApiUser, World, describe
from steps.support.accounting import (
    MYOB,
    PROVIDER,
    PROVIDERS,
    QUICKBOOKS,
    Accounting,
    Books,
    Org,
    connect_org,
    integration,
    last_seq,
    ok_json,
    org,
    service_grants,
)

# --- given / when: organisations, connections, syncs, provider-side events ------------------------


@given(
    parsers.re(
        PROVIDER
        + r' has an? (?:organisation|company file|company) "(?P<name>[^"]+)"'
        + r" with (?P<invoices>\d+) invoices(?: and (?P<contacts>\d+) contacts)?$"
    )
)
def accounting_org_at_provider(
    world: World, books: Books, name: str, provider: str, invoices: str, contacts: str | None
) -> None:
    chosen = PROVIDERS[provider]
    body = {"provider": chosen.slug, "name": name, "invoices": int(invoices), "contacts": int(contacts or 10)}
    made = ok_json(world.sandbox().post("/tenants", json=body), 201)
    books.orgs[name] = Org(chosen, made["tenant_id"], name, made["invoices"], made["contacts"])


@given(parsers.re(r'"(?P<user>[^"]+)" has connected ' + PROVIDER + r' to "(?P<name>[^"]+)"$'))
@when(parsers.re(r'"(?P<user>[^"]+)" connects ' + PROVIDER + r' to "(?P<name>[^"]+)" through its consent page$'))
def accounting_connect(world: World, books: Books, user: str, provider: str, name: str) -> None:
    chosen = org(world, books, name)
    assert chosen.provider is PROVIDERS[provider], f'"{name}" is not a {provider} organisation'
    choice = {chosen.provider.choice_param: chosen.tenant_id} if chosen.provider.choice_param else {}
    connect_org(world, books, user, name, chosen.tenant_id, choice)


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" connects MYOB to "(?P<name>[^"]+)" on a consent covering "(?P<first>[^"]+)"'
        r' and "(?P<second>[^"]+)"$'
    )
)
def accounting_connect_one_of_two_files(
    world: World, books: Books, user: str, name: str, first: str, second: str
) -> None:
    covered = f"{org(world, books, first).tenant_id},{org(world, books, second).tenant_id}"
    connect_org(world, books, user, name, covered, {"companyFileId": org(world, books, name).tenant_id})


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" connects MYOB without choosing a company file, on a consent covering '
        r'"(?P<first>[^"]+)" and "(?P<second>[^"]+)"$'
    )
)
def accounting_connect_without_choice(world: World, books: Books, user: str, first: str, second: str) -> None:
    covered = f"{org(world, books, first).tenant_id},{org(world, books, second).tenant_id}"
    world.response = _walk_consent(world, world.user(user), MYOB, covered, drop=None)


@when(
    parsers.re(r'"(?P<user>[^"]+)" connects QuickBooks to "(?P<name>[^"]+)" but the redirect back loses the realmId$')
)
def accounting_connect_losing_realm(world: World, books: Books, user: str, name: str) -> None:
    world.response = _walk_consent(
        world, world.user(user), QUICKBOOKS, org(world, books, name).tenant_id, drop="realmId"
    )


def _walk_consent(world: World, user: ApiUser, provider: Accounting, covered: str, drop: str | None) -> httpx.Response:
    """The OAuth flow by hand, for the callbacks that must fail: optionally losing a query parameter."""
    browser = world.client(base_url="")
    started = start_in_browser(user.client, browser, provider.slug)
    consent = browser.get(started.headers["Location"] + "&" + urlencode({"sandbox_tenant": covered}))
    assert consent.status_code == 302, describe(consent)
    back = urlsplit(consent.headers["Location"])
    query = {key: values[0] for key, values in parse_qs(back.query).items() if key != drop}
    return browser.get(back._replace(query=urlencode(query)).geturl())


@when(
    parsers.re(
        r'"(?P<user>[^"]+)" syncs the (?P<kind>invoices|contacts) of "(?P<name>[^"]+)"'
        r"(?P<again> again)?(?P<full>, asking for a full resync)?$"
    )
)
def accounting_sync(
    world: World, books: Books, user: str, kind: str, name: str, again: str | None, full: str | None
) -> None:
    provider = org(world, books, name).provider
    before = last_seq(world, books, provider)
    body = {"integrationId": integration(world, name)["id"], "dataType": kind, "fullResync": bool(full)}
    world.response = world.user(user).client.post("/api/integrations/sync", json=body)
    assert world.response.status_code != 500, f"a sync must never answer 500: {describe(world.response)}"
    books.sync_window = (before, last_seq(world, books, provider))
    books.mark = books.sync_window[1]


@when(parsers.re(PROVIDER + r" expires the access tokens it issued(?: again)?$"))
def accounting_expire_tokens(world: World, books: Books, provider: str) -> None:
    # The service's tokens are only in its database, encrypted: the sandbox expires those of the
    # scenario's own organisations (a stage's other consents are left alone).
    chosen = PROVIDERS[provider]
    mine = [o for o in books.orgs.values() if o.provider is chosen and o.name in world.integrations]
    expire = [
        world.sandbox().post("/tokens/expire", json={"provider": chosen.slug, "tenant_id": o.tenant_id}) for o in mine
    ]
    assert sum(ok_json(answer)["expired"] for answer in expire) > 0, f"{provider} had no access token to expire"
    for chosen_org in mine:
        for grant in service_grants(world, chosen_org):
            assert all(token["expired"] for token in grant["access_tokens"]), f"a live token is left: {grant}"
            books.refresh_before[grant["grant_id"]] = grant["current_refresh_sha256"]
    books.mark = last_seq(world, books, chosen)


@when(parsers.re(PROVIDER + r' revokes the connection to "(?P<name>[^"]+)"$'))
def accounting_revoke_connection(world: World, books: Books, provider: str, name: str) -> None:
    chosen = org(world, books, name)
    scope = {"provider": PROVIDERS[provider].slug, "tenant_id": chosen.tenant_id}  # the scenario's own consents
    revoked = ok_json(world.sandbox().post("/tokens/revoke", json=scope))
    assert revoked["revoked_grants"] > 0, f"{provider} had no grant to revoke"
    for grant in service_grants(world, chosen):
        assert all(token["revoked"] for token in grant["access_tokens"]), f"a live token is left: {grant}"


@when(parsers.re(r'"(?P<user>[^"]+)" replaces the stored tokens of "(?P<name>[^"]+)" with invalid ones$'))
def accounting_invalid_tokens(world: World, user: str, name: str) -> None:
    bogus = {"accessToken": "qa-not-a-token-" + uuid.uuid4().hex, "refreshToken": "qa-not-a-token-" + uuid.uuid4().hex}
    ok_json(world.user(user).client.patch(f"/api/integrations/{integration(world, name)['id']}", json=bogus))


@when(parsers.re(r'"(?P<user>[^"]+)" points the MYOB integration of "(?P<name>[^"]+)" at "(?P<other>[^"]+)"$'))
def accounting_change_company_file(world: World, books: Books, user: str, name: str, other: str) -> None:
    target = org(world, books, other)
    custom = {"companyFileId": target.tenant_id, "companyFileName": target.name}
    changed = world.user(user).client.patch(
        f"/api/integrations/{integration(world, name)['id']}", json={"customData": custom}
    )
    world.integrations[other] = ok_json(changed)["integration"]
    books.owner[other] = world.user(user)


@when(parsers.re(PROVIDER + r' changes (?P<count>\d+) invoices of "(?P<name>[^"]+)"$'))
def accounting_provider_changes_invoices(world: World, books: Books, provider: str, count: str, name: str) -> None:
    chosen = org(world, books, name)
    path = f"/tenants/{PROVIDERS[provider].slug}/{chosen.tenant_id}/mutations"
    changed = ok_json(world.sandbox().post(path, json={"modify": int(count)}))
    assert len(changed["modified_ids"]) == int(count), f"the sandbox changed {changed['modified_ids']}"
