"""BillionMail (self-hosted mail marketing): an API key per integration, campaigns ("batch mail tasks").

Each integration names its instance in `customData.baseUrl` (BillionMail is self-hosted: every
user's instance lives somewhere else) and brings an API token (Settings -> API), sent as
`Authorization: Bearer <key>`. EVERY answer is HTTP 200 with `{success, code, msg, data}`: a
failure shows only in the body, so every answer is checked here. Code 401 is a refused key, 509 a
rate limit and 5xx a server problem (both retried like HTTP 429/5xx on reads); anything else is a
request the server refused, reported with its own `msg`.

BillionMail has no "send" call: a task is sent when its `start_time` comes, so "send now" is a
task created with the current time. Its recipients are fixed at creation: the DISTINCT addresses
with a subscribed row in at least one of its groups, which is the `recipient_count` it reports.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from integration_service.db.schema import billionmail_campaigns
from integration_service.providers.base import (
    ApiCredentials,
    ApiKeyProvider,
    Linked,
    ProviderApi,
    Record,
    RecordSet,
)
from integration_service.providers.errors import (
    ProviderAddressRefused,
    ProviderAuthError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
)
from integration_service.providers.http import RetryPolicy, default_is_retryable, send_with_retries, timeouts
from integration_service.security.outbound import OutboundPolicy, OutboundRefused, guarded_client
from integration_service.settings import Settings

PAGE_SIZE = 100
TASK_STATES = {0: "not_started", 1: "running", 2: "completed", 3: "paused"}
RATE_LIMITED = 509
_RETRYABLE_CODES = {RATE_LIMITED, 500, 502, 503, 504}


def instance_url(raw: object, stage: str, policy: OutboundPolicy) -> str:
    """`customData.baseUrl` as the instance's root URL, or a ProviderRequestError saying what is wrong.

    Outside the local stage it must be https. In every stage a host written as an internal address
    (in any numeric form) is refused here, at once; a host NAME leading to one is refused when the
    service connects (security/outbound.py), which is also where DNS rebinding is stopped.
    """
    example = "e.g. https://mail.example.com"
    if not isinstance(raw, str) or not raw.strip():
        raise ProviderRequestError(f"customData.baseUrl is required: your BillionMail instance's URL, {example}")
    try:
        url = httpx.URL(raw.strip())
    except httpx.InvalidURL:
        raise ProviderRequestError(f"customData.baseUrl is not a URL ({example})") from None
    if url.scheme not in ("http", "https") or not url.host or url.userinfo or url.query or url.fragment:
        raise ProviderRequestError(f"customData.baseUrl must be a plain http(s) URL without credentials ({example})")
    if stage != "local":
        if url.scheme != "https":
            raise ProviderRequestError("customData.baseUrl must be an https:// URL")
        if url.host == "localhost" or url.host.endswith(".localhost"):
            raise ProviderRequestError("customData.baseUrl must not point at a local or private network address")
    try:
        policy.check_host(url.host)
    except OutboundRefused as exc:
        raise ProviderAddressRefused(
            f"customData.baseUrl must not point at a local or private network address: {exc}"
        ) from None
    return str(url).rstrip("/").removesuffix("/api")


def _timestamp(value: object) -> datetime | None:
    """BillionMail's Unix seconds; 0 means "not set"."""
    if value in (None, "", 0, "0"):
        return None
    return datetime.fromtimestamp(int(str(value)), tz=UTC)


def _task_row(record: Record, _custom_data: Mapping[str, Any]) -> Record:
    groups = record.get("groups") or []
    group_ids = [int(group["id"]) for group in groups if isinstance(group, dict) and "id" in group]
    if not group_ids and record.get("group_id"):
        group_ids = [int(record["group_id"])]  # task/find shows only the first group
    process = record.get("task_process")
    return {
        "billionmail_task_id": str(record["id"]),
        "task_name": record.get("task_name"),
        "subject": record.get("subject"),
        "addresser": record.get("addresser"),
        "template_id": None if record.get("template_id") is None else str(record["template_id"]),
        "group_ids": group_ids,
        "status": TASK_STATES.get(int(process), str(process)) if process is not None else None,
        "recipient_count": record.get("recipient_count"),
        "sent_count": record.get("sent_count"),
        "start_time": _timestamp(record.get("start_time")),
        "provider_updated_at": _timestamp(record.get("update_time")),
    }


def _envelope_code(response: httpx.Response) -> int | None:
    """The envelope's failure code, or None for a success or an answer that is not an envelope."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("success") is False:
        code = body.get("code")
        return int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    return None


def _is_retryable(response: httpx.Response) -> bool:
    return default_is_retryable(response) or _envelope_code(response) in _RETRYABLE_CODES


class BillionMailApi(ProviderApi):
    """One integration's calls: `call(method, path)` answers the envelope's `data` or raises."""

    def __init__(self, linked: Linked, base_url: str, api_key: str, http: httpx.Client, policy: RetryPolicy) -> None:
        self.linked = linked
        self.base_url = base_url
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self.http = http
        self.policy = policy

    def get_json(
        self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        return self.call("GET", url.removeprefix(f"{self.base_url}/api"), params=params)

    def call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Mapping[str, Any] | None = None
    ) -> Any:
        url = f"{self.base_url}/api{path}"
        # A write is sent once: a timeout may hide a task that was made, and a retry would make another.
        policy = self.policy if method == "GET" else replace(self.policy, attempts=1)
        seen: list[httpx.Response] = []

        def retryable(response: httpx.Response) -> bool:
            seen.append(response)
            return _is_retryable(response)

        def build() -> httpx.Request:
            return self.http.build_request(method, url, params=params, json=body, headers=self._headers)

        try:
            response = send_with_retries(self.http, build, policy, retryable)
        except ProviderUnavailable:
            if seen and seen[-1].status_code == 200:  # retried envelopes: say what they said, not "HTTP 200"
                raise ProviderUnavailable(
                    f"billionmail kept failing through every retry: {_describe(seen[-1])}"
                ) from None
            raise
        return _data(response, path)


def _describe(response: httpx.Response) -> str:
    body = response.json()
    message = str(body.get("msg") or "").strip()[:200]
    return f"code {body.get('code')}" + (f": {message}" if message else "")


def _data(response: httpx.Response, path: str) -> Any:
    """The envelope's data; its failures as the error they are, in BillionMail's own words."""
    if response.status_code != 200:
        raise ProviderRequestError(
            f"billionmail answered HTTP {response.status_code} at /api{path}: "
            "is customData.baseUrl the instance's URL?",
            response.status_code,
        )
    try:
        body = response.json()
    except ValueError:
        raise ProviderResponseError(f"billionmail answered /api{path} with something that is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise ProviderResponseError(f"billionmail answered /api{path} without its {{success, code, msg}} envelope")
    if body["success"]:
        return body.get("data")
    code = _envelope_code(response)
    if code == 401:
        raise ProviderAuthError(
            f"billionmail refused the API key ({_describe(response)}): "
            "create a key in BillionMail (Settings -> API) and set it as apiKey"
        )
    if code in _RETRYABLE_CODES:
        raise ProviderUnavailable(f"billionmail failed at /api{path} ({_describe(response)})")
    raise ProviderRequestError(f"billionmail refused /api{path} ({_describe(response)})", code)


@dataclass(frozen=True)
class NewTask:
    """A campaign to create; `start_time` is when BillionMail sends it (now = send now)."""

    addresser: str
    subject: str
    template_id: int
    group_ids: list[int]
    start_time: datetime
    full_name: str = ""
    remark: str = ""


class BillionMail(ApiKeyProvider[BillionMailApi]):
    integration_type: ClassVar[str] = "BILLIONMAIL"
    slug: ClassVar[str] = "billionmail"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.outbound = OutboundPolicy.from_settings(settings)
        # The instance is the user's choice of URL: its calls go through the outbound-URL guard, never
        # through the service's shared client (which reaches the configured providers).
        self.http = guarded_client(settings, timeouts(settings))

    def record_sets(self) -> dict[str, RecordSet]:
        return {"campaigns": RecordSet(billionmail_campaigns, "billionmail_task_id", _task_row)}

    def check_custom_data(self, custom_data: Mapping[str, Any]) -> dict[str, Any]:
        return {**custom_data, "baseUrl": instance_url(custom_data.get("baseUrl"), self.settings.stage, self.outbound)}

    def client(self, linked: Linked, credentials: ApiCredentials, http: httpx.Client) -> BillionMailApi:
        # Checked on every use, not only at creation: customData can be changed later (PATCH).
        base_url = instance_url(linked.custom_data.get("baseUrl"), self.settings.stage, self.outbound)
        policy = RetryPolicy.from_settings(self.settings)
        return BillionMailApi(linked, base_url, credentials.api_key, self.http, policy)

    def test_connection(self, api: BillionMailApi) -> None:
        data = api.call("GET", "/current-user")
        if not isinstance(data, dict) or not isinstance(data.get("account"), dict):
            raise ProviderResponseError("billionmail /api/current-user did not describe an account")

    def pages(self, api: BillionMailApi, data_type: str, modified_since: datetime | None) -> Iterator[list[Record]]:
        """Every task, newest first; BillionMail cannot filter by change time, so every sync is full."""
        page = 1
        while True:
            data = api.call("GET", "/batch_mail/task/list", params={"page": page, "page_size": PAGE_SIZE})
            if not isinstance(data, dict):
                raise ProviderResponseError(f"billionmail task list page {page} has no data")
            records = data.get("list") or []  # Go encodes an empty slice as null
            if not isinstance(records, list):
                raise ProviderResponseError(f"billionmail task list page {page} has no list")
            yield records
            if len(records) < PAGE_SIZE or page * PAGE_SIZE >= int(data.get("total") or 0):
                return
            page += 1

    def create_task(self, api: BillionMailApi, task: NewTask) -> Record:
        """Create (and so schedule or send) a task; the task as BillionMail then shows it, as a row."""
        created = api.call(
            "POST",
            "/batch_mail/task/create",
            body={
                "addresser": task.addresser,
                "full_name": task.full_name,
                "subject": task.subject,
                "template_id": task.template_id,
                "group_ids": task.group_ids,
                "start_time": int(task.start_time.timestamp()),
                "remark": task.remark,
            },
        )
        if not isinstance(created, dict) or "id" not in created:
            raise ProviderResponseError("billionmail created a task but did not say its id")
        shown = api.call("GET", "/batch_mail/task/find", params={"id": created["id"]})
        if not isinstance(shown, dict):
            raise ProviderResponseError(f"billionmail did not show the task {created['id']} it created")
        return {**_task_row(shown, {}), "group_ids": list(task.group_ids)}
