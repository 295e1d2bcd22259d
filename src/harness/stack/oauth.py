"""Connecting an account through the real OAuth flow, as a user's browser does it: the service's
connect route → the provider's consent page (the sandbox) → the service's callback.

Shared by the project's tests and the checklist scenarios, so both walk the flow the same way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx


class OAuthFlowError(AssertionError):
    """A leg of the flow did not answer as the flow requires; the message says which and with what."""


def connect_via_oauth(
    api: httpx.Client, browser: httpx.Client, provider: str, tenant: str | None = None, **query: str
) -> dict[str, Any]:
    """The integration the callback created. `api` carries the user's API token; `browser` carries none
    (the consent page and the callback are visited by the user's browser, not by an API client)."""
    started = start_in_browser(api, browser, provider, **query)
    consent_url = started.headers["Location"]
    if started.json().get("authorizationUrl") != consent_url:
        raise OAuthFlowError("the connect route's authorizationUrl differs from its Location header")
    if tenant:  # the sandbox's stand-in for the user picking an organisation on the consent page
        consent_url += "&" + urlencode({"sandbox_tenant": tenant})
    consent = browser.get(consent_url)
    _expect(consent, 302, "the provider's consent page")
    back = browser.get(consent.headers["Location"])
    _expect(back, 200, "the service's OAuth callback")
    integration: dict[str, Any] = back.json()["integration"]
    return integration


def start_in_browser(api: httpx.Client, browser: httpx.Client, provider: str, **query: str) -> httpx.Response:
    """The connect route's 302, its state cookie handed to `browser`, as when the browser itself calls
    `connect` (or the CRM relays its Set-Cookie): only that browser can then complete the flow."""
    started = api.get(f"/api/integrations/{provider}/connect", params=query)
    _expect(started, 302, f"GET /api/integrations/{provider}/connect")
    browser.cookies.extract_cookies(started)
    return started


def state_cookie(started: httpx.Response) -> str:
    """`name=value` of the state cookie a connect route's answer set, to send by hand where a browser would not."""
    return started.headers["set-cookie"].split(";", 1)[0]


def _expect(response: httpx.Response, status: int, leg: str) -> None:
    if response.status_code != status:
        raise OAuthFlowError(f"{leg} answered {response.status_code}, expected {status}: {response.text[:500]}")
