"""The accounting providers (Xero, MYOB, QuickBooks Online) as the scenarios see them: what each provider is,
the organisations a scenario made at the sandbox (`Books`), the sandbox's request log and grants, and what the
provider itself shows (read with a QA app of the scenario's own, so the comparison does not trust the service).
Used by the accounting steps (steps/providers/accounting_*.py) and by the operations steps that need a connected
organisation.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from steps.common import ApiUser, World, connect_account, describe

PROVIDER = r"(?P<provider>Xero|MYOB|QuickBooks)"
READER_REDIRECT = "http://127.0.0.1/qa-provider-view"  # never visited: the code is read off the redirect


@dataclass(frozen=True)
class Accounting:
    """What the steps need to know about one accounting provider."""

    slug: str
    integration_type: str
    authorize_path: str  # under the sandbox URL
    token_path: str
    scope: str
    linked_key: str  # the customData key naming the connected organisation / file / realm
    choice_param: str | None  # the connect route's query parameter that picks among several
    page_size: int  # records per page as the service asks for them
    listing_path: str  # substring of the invoice listing's path, for the request log
    token_path_marker: str  # substring of the token endpoint's path, for the request log
    invoice_id: str  # the provider id's field in the service's read route
    tenant_field: str | None  # the read route's field naming the file / realm, where records carry one
    invoice_fields: tuple[tuple[str, tuple[str, ...]], ...]  # read-route field -> path in the provider's invoice


XERO = Accounting(
    "xero",
    "XERO",
    "/xero/login/identity/connect/authorize",
    "/xero/identity/connect/token",
    "openid profile email accounting.transactions.read accounting.contacts.read offline_access",
    "tenantId",
    "tenantId",
    100,
    "/api.xro/2.0/Invoices",
    "/connect/token",
    "xeroInvoiceId",
    None,
    (
        ("xeroInvoiceId", ("InvoiceID",)),
        ("invoiceNumber", ("InvoiceNumber",)),
        ("status", ("Status",)),
        ("contactName", ("Contact", "Name")),
        ("currencyCode", ("CurrencyCode",)),
        ("subTotal", ("SubTotal",)),
        ("totalTax", ("TotalTax",)),
        ("total", ("Total",)),
        ("amountDue", ("AmountDue",)),
        ("amountPaid", ("AmountPaid",)),
    ),
)
MYOB = Accounting(
    "myob",
    "MYOB",
    "/myob/secure/oauth2/account/authorize",
    "/myob/secure/oauth2/v1/authorize",
    "CompanyFile",
    "companyFileId",
    "companyFileId",
    400,
    "/Sale/Invoice",
    "/oauth2/v1/authorize",
    "myobInvoiceUid",
    "companyFileId",
    (
        ("myobInvoiceUid", ("UID",)),
        ("invoiceNumber", ("Number",)),
        ("status", ("Status",)),
        ("customerName", ("Customer", "Name")),
        ("subtotal", ("Subtotal",)),
        ("totalTax", ("TotalTax",)),
        ("totalAmount", ("TotalAmount",)),
        ("balanceDueAmount", ("BalanceDueAmount",)),
    ),
)
QUICKBOOKS = Accounting(
    "quickbooks",
    "QUICKBOOKS",
    "/quickbooks/appcenter/connect/oauth2",
    "/quickbooks/oauth/oauth2/v1/tokens/bearer",
    "com.intuit.quickbooks.accounting",
    "realmId",
    None,
    500,
    "/query",
    "/tokens/bearer",
    "quickbooksInvoiceId",
    "realmId",
    (
        ("quickbooksInvoiceId", ("Id",)),
        ("docNumber", ("DocNumber",)),
        ("customerName", ("CustomerRef", "name")),
        ("totalAmount", ("TotalAmt",)),
        ("balance", ("Balance",)),
    ),
)
PROVIDERS = {"Xero": XERO, "MYOB": MYOB, "QuickBooks": QUICKBOOKS}
CONTACT_FIELDS = (
    ("xeroContactId", ("ContactID",)),
    ("name", ("Name",)),
    ("emailAddress", ("EmailAddress",)),
    ("contactStatus", ("ContactStatus",)),
)


@dataclass
class Org:
    """An organisation (Xero), company file (MYOB) or company (QuickBooks) made at the sandbox."""

    provider: Accounting
    tenant_id: str
    name: str
    invoices: int
    contacts: int


@dataclass
class Books:
    """The accounting scenario's state: the `books` fixture, which its steps share."""

    orgs: dict[str, Org] = field(default_factory=dict)
    owner: dict[str, ApiUser] = field(default_factory=dict)  # who connected each org's integration
    first_ids: dict[str, str] = field(default_factory=dict)  # integration id of an org's first connection
    sync_window: tuple[int, int] = (0, 0)  # sandbox request seqs around the last sync
    refresh_before: dict[str, str | None] = field(default_factory=dict)  # grant id -> current refresh sha256
    mark: int = 0  # sandbox request seq when the last provider-side event happened


@pytest.fixture(name="books")
def new_books() -> Books:
    return Books()


def org(world: World, books: Books, name: str) -> Org:
    assert name in books.orgs, f'no organisation "{name}" was made in this scenario'
    return books.orgs[name]


def integration(world: World, name: str) -> dict[str, Any]:
    assert name in world.integrations, f'"{name}" was not connected in this scenario'
    return world.integrations[name]


def ok_json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"expected {status}: {describe(response)}"
    return response.json()


# --- the sandbox: request log, grants, the provider's own view ------------------------------------


def sandbox_requests(world: World, provider: Accounting, since: int, path: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"provider": provider.slug, "since_seq": since}
    if path:
        params["path_contains"] = path
    return list(ok_json(world.sandbox().get("/requests", params=params)))


def last_seq(world: World, books: Books, provider: Accounting) -> int:
    known = books.mark
    return max((entry["seq"] for entry in sandbox_requests(world, provider, known)), default=known)


def service_grants(world: World, chosen: Org) -> list[dict[str, Any]]:
    """The consents the service holds for the org (the QA reader's own are left out)."""
    grants = ok_json(world.sandbox().get("/tokens", params={"provider": chosen.provider.slug}))
    return [
        grant
        for grant in grants
        if chosen.tenant_id in grant["tenant_ids"] and not grant["client_id"].startswith("qa-reader-")
    ]


def provider_token(world: World, chosen: Org) -> tuple[str, str]:
    """(client id, access token) of a QA app the scenario registers and consents for `chosen` itself."""
    provider = chosen.provider
    client_id, secret = f"qa-reader-{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(24)
    registered = world.sandbox().post(
        "/clients",
        json={
            "provider": provider.slug,
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": [READER_REDIRECT],
            "app_name": "QA provider view",
        },
    )
    ok_json(registered, 201)
    sandbox = world.client(base_url=world.sandbox_url())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": READER_REDIRECT,
        "scope": provider.scope,
        "state": secrets.token_urlsafe(8),
        "sandbox_tenant": chosen.tenant_id,
    }
    consent = sandbox.get(f"{provider.authorize_path}?{urlencode(query)}")
    assert consent.status_code == 302, f"the QA app's consent: {describe(consent)}"
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": READER_REDIRECT}
    tokens = ok_json(sandbox.post(provider.token_path, data=form, auth=(client_id, secret)))
    return client_id, str(tokens["access_token"])


def provider_records(world: World, chosen: Org, kind: str) -> list[dict[str, Any]]:
    """Every invoice (or Xero contact) of `chosen`, as the provider's API shows it."""
    client_id, token = provider_token(world, chosen)
    base = f"{world.sandbox_url()}/{chosen.provider.slug}/api"
    api = world.client(base_url=base, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    found: list[dict[str, Any]] = []
    if chosen.provider is XERO:
        endpoint = "Contacts" if kind == "contacts" else "Invoices"
        page: list[dict[str, Any]] = [{}]
        while page:
            params = {"page": len(found) // 1000 + 1, "pageSize": 1000}
            answer = api.get(f"/api.xro/2.0/{endpoint}", params=params, headers={"xero-tenant-id": chosen.tenant_id})
            page = ok_json(answer)[endpoint]
            found += page
            page = page if len(page) == 1000 else []
    elif chosen.provider is MYOB:
        headers = {"x-myobapi-key": client_id, "x-myobapi-version": "v2"}
        url: str | None = f"{base}/accountright/{chosen.tenant_id}/Sale/Invoice?$top=1000"
        while url:
            body = ok_json(api.get(url, headers=headers))
            found += body["Items"]
            url = body["NextPageLink"]
    else:
        while True:
            query = f"select * from Invoice STARTPOSITION {len(found) + 1} MAXRESULTS 1000"  # noqa: S608 - no SQL
            body = ok_json(api.get(f"/v3/company/{chosen.tenant_id}/query", params={"query": query}))
            batch = body["QueryResponse"].get("Invoice", [])
            found += batch
            if len(batch) < 1000:
                break
    return found


def service_records(world: World, user: ApiUser, provider: Accounting, kind: str, integration_id: str) -> list[Any]:
    """Every record the service stored for the integration, read page by page through its read route."""
    rows: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {"integrationId": integration_id, "limit": 500, "offset": len(rows)}
        body = ok_json(user.client.get(f"/api/integrations/{provider.slug}/{kind}", params=params))
        rows += body[kind]
        if not body[kind] or len(rows) >= body["total"]:
            assert len(rows) == body["total"], f"the read route's total {body['total']} differs from {len(rows)} rows"
            return rows


def connect_org(world: World, books: Books, user: str, name: str, covered: str, choice: dict[str, str]) -> None:
    """Connect the organisation `name` for `user` through the real OAuth flow, remembering who and which id."""
    connected = connect_account(world, world.user(user), org(world, books, name).provider.slug, covered, **choice)
    world.integrations[name] = connected
    books.owner[name] = world.user(user)
    books.first_ids.setdefault(name, connected["id"])
