"""BillionMail's wire format: the envelope, parameter rules and payload renderers.

Paths and fields follow aaPanel/BillionMail core/api/{rbac,batch_mail,contact,email_template,
mail_boxes}/v1. GoFrame reads parameters from the query, a JSON body or a form body alike, and
validation failures come back as code 412 inside an HTTP 200, like everything else.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response

from provider_sandbox.core.framework import json_response
from provider_sandbox.providers.billionmail.store import BillionMailInstance, Task

# public.CodeMap in BillionMail: the message used when a handler sets no better one.
CODE_MESSAGES = {
    401: "Not logged in",
    403: "No permission",
    404: "Specified object does not exist",
    412: "Parameter error",
    500: "Unknown error",
    502: "Failed to connect to upstream service",
    503: "Service is under maintenance, please try again later",
    504: "Timeout waiting for upstream service response",
    509: "Access restricted, rate limit exceeded",
}

Params = dict[str, Any]


class BillionMailError(Exception):
    """Raised by route code; rendered as an HTTP 200 envelope with success=false."""

    def __init__(self, code: int, msg: str | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = CODE_MESSAGES.get(code, "Operation failed") if msg is None else msg


def envelope(data: Any = None, msg: str = "Operation successful") -> Response:
    return json_response({"success": True, "code": 0, "msg": msg, "data": data})


def failure(code: int, msg: str | None = None, headers: dict[str, str] | None = None) -> Response:
    error = BillionMailError(code, msg)
    body = {"success": False, "code": error.code, "msg": error.msg, "data": None}
    return json_response(body, 200, headers)


async def read_params(request: Request) -> Params:
    """Query parameters, then a JSON or form body on top (the body wins, as in GoFrame)."""
    params: Params = dict(request.query_params)
    raw = await request.body()
    if not raw.strip():
        return params
    if "json" in request.headers.get("content-type", "") or raw.lstrip()[:1] in (b"{", b"["):
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            raise BillionMailError(412, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BillionMailError(412, "request body must be a JSON object")
        params.update(body)
    else:
        params.update(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    return params


def int_param(params: Params, name: str, default: int | None = None, minimum: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise BillionMailError(412, f"The {name} field is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BillionMailError(412, f"The {name} value must be an integer")
    try:
        number = int(value)
    except ValueError:
        raise BillionMailError(412, f"The {name} value must be an integer") from None
    if minimum is not None and number < minimum:
        raise BillionMailError(412, f"The {name} value `{number}` must be equal or greater than {minimum}")
    return number


def flag_param(params: Params, name: str, default: int) -> int:
    value = int_param(params, name, default)
    if value not in (0, 1):
        raise BillionMailError(412, f"The {name} value `{value}` is not in acceptable range: 0,1")
    return value


def str_param(params: Params, name: str, required: bool = False) -> str:
    value = params.get(name, "")
    if not isinstance(value, str):
        raise BillionMailError(412, f"The {name} value must be a string")
    if required and not value.strip():
        raise BillionMailError(412, f"The {name} field is required")
    return value.strip()


def group_ids_param(params: Params) -> list[int]:
    """`group_ids` (a list) as in the documented request; newer servers take one `group_id`."""
    raw = params.get("group_ids")
    if raw is None and params.get("group_id") not in (None, ""):
        return [int_param(params, "group_id", minimum=1)]
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or not raw:
        raise BillionMailError(412, "The group_ids field is required")
    return [int_param({"group_ids": item}, "group_ids", minimum=1) for item in raw]


def page_of(items: list[Any], params: Params) -> tuple[int, list[Any]]:
    page, size = int_param(params, "page", minimum=1), int_param(params, "page_size", minimum=1)
    return len(items), items[(page - 1) * size : page * size]


# --- renderers -----------------------------------------------------------------------------------


def group_info(instance: BillionMailInstance, group_id: int) -> dict[str, Any]:
    group = instance.groups[group_id]
    total, active = instance.group_counts(group_id)
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "create_time": group.create_time,
        "update_time": group.update_time,
        "token": f"group-{group.id}",
        "double_optin": 0,
        "total_count": total,
        "active_count": active,
        "unsubscribe_count": total - active,
    }


def task_entity(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "task_name": task.subject,
        "addresser": task.addresser,
        "subject": task.subject,
        "full_name": task.full_name,
        "recipient_count": len(task.recipients),
        "task_process": task.task_process,
        "pause": task.pause,
        "template_id": task.template_id,
        "is_record": task.options.get("is_record", 1),
        "unsubscribe": task.options.get("unsubscribe", 1),
        "threads": task.options.get("threads", 5),
        "track_open": task.options.get("track_open", 1),
        "track_click": task.options.get("track_click", 1),
        "start_time": task.start_time,
        "create_time": task.create_time,
        "update_time": task.update_time,
        "remark": task.remark,
        "active": 1,
        "add_type": 0,
        "group_id": task.group_ids[0],
    }


def task_detail(instance: BillionMailInstance, task: Task) -> dict[str, Any]:
    recipients = len(task.recipients)
    template = next((t for t in instance.templates if t.id == task.template_id), None)
    return {
        **task_entity(task),
        "groups": [
            {"id": g.id, "name": g.name, "description": g.description, "count": instance.group_counts(g.id)[1]}
            for g in (instance.groups.get(gid) for gid in task.group_ids)
            if g is not None
        ],
        "sent_count": task.sent,
        "unsent_count": max(recipients - task.sent, 0),
        "progress": min(100, task.sent * 100 // recipients) if recipients else 0,
        "template_name": template.name if template else "",
        "success_count": task.sent,  # every address is deliverable in the sandbox
        "error_count": 0,
        "deferred": 0,
    }


def find_task(instance: BillionMailInstance, params: Params, name: str) -> Task:
    task_id = int_param(params, name, minimum=1)
    task = instance.tasks.get(task_id)
    if task is None:
        raise BillionMailError(404, f"Task not found: {task_id}")
    return task
