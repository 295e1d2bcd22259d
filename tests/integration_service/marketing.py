"""What the marketing tests need to know about BillionMail and Mautic, in one place."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.fixtures.service import ApiUser
from tests.integration_service.accounting import Provider

BILLIONMAIL = Provider("billionmail", "billionmail_campaigns", "billionmail_task_id", 100, "/batch_mail/task/list")
MAUTIC = Provider("mautic", "mautic_campaigns", "mautic_campaign_id", 100, "/api/campaigns")
SANDBOX_KEY = "sandbox-billionmail-api-key"  # the sandbox's default instance (README)
SENDER = "newsletter@sandbox-mail.example.com"


def create_billionmail(
    user: ApiUser, sandbox_url: str, api_key: str = SANDBOX_KEY, **custom_data: Any
) -> httpx.Response:
    return user.client.post(
        "/api/integrations",
        json={
            "integrationType": "BILLIONMAIL",
            "integrationName": f"mail {uuid.uuid4().hex[:8]}",
            "apiKey": api_key,
            "customData": {"baseUrl": f"{sandbox_url}/billionmail", **custom_data},
        },
    )


def billionmail(user: ApiUser, sandbox_url: str) -> dict[str, Any]:
    """A BILLIONMAIL integration on the sandbox's default instance."""
    created = create_billionmail(user, sandbox_url)
    assert created.status_code == 201, created.text
    integration: dict[str, Any] = created.json()["integration"]
    return integration


def instance(control: httpx.Client, provider: Provider) -> dict[str, Any]:
    """The sandbox's default BillionMail / Mautic instance, with its current counts."""
    listed = control.get(f"/{provider.slug}/instances")
    listed.raise_for_status()
    return next(item for item in listed.json() if item["default"])


class BillionMailAdmin:
    """The sandbox's BillionMail API called directly, as the instance's administrator would."""

    def __init__(self, sandbox_url: str, api_key: str = SANDBOX_KEY) -> None:
        self.client = httpx.Client(
            base_url=f"{sandbox_url}/billionmail/api", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        body = self.client.request(method, path, **kwargs).json()
        assert body["success"] is True, body
        return body["data"]

    def group(self, rows: list[tuple[str, int]]) -> int:
        """A new contact group holding these (email, subscribed) rows; its id."""
        name = f"test group {uuid.uuid4().hex[:8]}"
        file_data = "\n".join(f"{email},{active}" for email, active in rows)
        self.call("POST", "/contact/group/create", json={"name": name, "create_type": 1, "file_data": file_data})
        groups = self.call("GET", "/contact/group/all")["list"]
        return int(next(group["id"] for group in groups if group["name"] == name))

    def subscribed(self, group_id: int) -> set[str]:
        data = self.call(
            "GET", "/contact/list", params={"group_id": group_id, "status": 1, "page": 1, "page_size": 10000}
        )
        return {row["email"] for row in data["list"]}
