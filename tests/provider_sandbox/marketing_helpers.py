"""Client-side helpers for the BillionMail and Mautic simulators, used the way a service would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

BM_API = "/billionmail/api"
BM_KEY = "sandbox-billionmail-api-key"
MAUTIC_CLIENT = ("sandbox-mautic-client", "sandbox-mautic-secret")
MAUTIC_REDIRECT = "http://localhost:8765/mautic/callback"


def bm(
    http: httpx.Client, method: str, path: str, key: str = BM_KEY, headers: dict[str, str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Call BillionMail; assert the HTTP 200 it always answers and return the envelope."""
    sent = {"Authorization": f"Bearer {key}", **(headers or {})}
    response = http.request(method, BM_API + path, headers=sent, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "code", "msg", "data"}, body
    return dict(body)


def bm_ok(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    body = bm(http, method, path, **kwargs)
    assert (body["success"], body["code"]) == (True, 0), body
    return body["data"]


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def bm_group(http: httpx.Client, lines: list[str]) -> int:
    """Create a contact group through the API and paste `email[,status]` lines into it."""
    name = unique("Test group")
    bm_ok(http, "POST", "/contact/group/create", json={"name": name, "create_type": 1})
    groups = bm_ok(http, "GET", "/contact/group/list", params={"page": 1, "page_size": 50, "keyword": name})
    group_id = int(groups["list"][0]["id"])
    payload = {"group_ids": [group_id], "import_type": 2, "contacts": "\n".join(lines), "default_active": 1}
    bm_ok(http, "POST", "/contact/group/import", json=payload)
    return group_id


def sandbox_now(http: httpx.Client) -> int:
    """The sandbox clock (other tests may have moved it forward), as a Unix time."""
    return int(datetime.fromisoformat(http.get("/_sandbox/clock").json()["now"]).timestamp())


def bm_task(http: httpx.Client, group_ids: list[int], start_in_s: int = 0, **extra: Any) -> dict[str, Any]:
    payload = {
        "addresser": "newsletter@sandbox-mail.example.com",
        "subject": unique("Launch"),
        "template_id": 1,
        "start_time": sandbox_now(http) + start_in_s,
        **({"group_ids": group_ids} if group_ids else {}),
        **extra,
    }
    return bm(http, "POST", "/batch_mail/task/create", json=payload)


@dataclass(frozen=True)
class MauticTokens:
    access: str
    refresh: str
    body: dict[str, Any]


def mautic_token(http: httpx.Client, form: dict[str, str], secret: str = MAUTIC_CLIENT[1]) -> httpx.Response:
    """Mautic's docs post client_id and client_secret in the form body."""
    return http.post("/mautic/oauth/v2/token", data={**form, "client_id": MAUTIC_CLIENT[0], "client_secret": secret})


def mautic_connect(http: httpx.Client) -> MauticTokens:
    params = {
        "client_id": MAUTIC_CLIENT[0],
        "grant_type": "authorization_code",
        "redirect_uri": MAUTIC_REDIRECT,
        "response_type": "code",
        "state": "mautic-state",
    }
    redirect = http.get("/mautic/oauth/v2/authorize", params=params, follow_redirects=False)
    assert redirect.status_code == 302, redirect.text
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    assert query["state"] == ["mautic-state"]
    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": MAUTIC_REDIRECT}
    response = mautic_token(http, form)
    assert response.status_code == 200, response.text
    body = response.json()
    return MauticTokens(body["access_token"], body["refresh_token"], body)


def mautic_get(http: httpx.Client, token: str, path: str, **params: Any) -> httpx.Response:
    return http.get(f"/mautic/api{path}", params=params, headers={"Authorization": f"Bearer {token}"})


def mautic_send(http: httpx.Client, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return http.request(method, f"/mautic/api{path}", json=body, headers={"Authorization": f"Bearer {token}"})
