"""BillionMail API handlers, mounted under /billionmail/api with BillionMail's real paths."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from fastapi import Request, Response

from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.providers.billionmail.store import (
    COMPLETED,
    DOMAIN,
    NOT_STARTED,
    PAUSED,
    BillionMailInstance,
    Task,
)
from provider_sandbox.providers.billionmail.wire import (
    BillionMailError,
    Params,
    envelope,
    failure,
    find_task,
    flag_param,
    group_ids_param,
    group_info,
    int_param,
    page_of,
    read_params,
    str_param,
    task_detail,
    task_entity,
)

Handler = Callable[[BillionMailInstance, Params, int], Response]
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_PROCESS_WORDS = {NOT_STARTED: "not started", COMPLETED: "already completed"}


def current_user(instance: BillionMailInstance, params: Params, now: int) -> Response:
    """GET /api/current-user: cheap and side-effect free, the natural connection test."""
    account = {"id": 1, "username": "billionmail", "email": f"admin@{DOMAIN}", "status": 1, "lang": "en"}
    return envelope({"account": account, "roles": ["admin"], "permissions": ["*"]})


def list_tasks(instance: BillionMailInstance, params: Params, now: int) -> Response:
    keyword, status = str_param(params, "keyword").lower(), int_param(params, "status", -1)
    tasks = [
        t
        for t in sorted(instance.tasks.values(), key=lambda t: t.id, reverse=True)  # newest first
        if (status == -1 or t.task_process == status) and keyword in t.subject.lower()
    ]
    total, page = page_of(tasks, params)
    data = {"total": total, "list": [task_detail(instance, t) for t in page]}
    return envelope(data, "Task list retrieved successfully")


def find(instance: BillionMailInstance, params: Params, now: int) -> Response:
    return envelope(task_entity(find_task(instance, params, "id")))


def create_task(instance: BillionMailInstance, params: Params, now: int) -> Response:
    addresser = str_param(params, "addresser", required=True)
    subject = str_param(params, "subject", required=True)
    template_id = int_param(params, "template_id")
    group_ids = group_ids_param(params)
    start_time = int_param(params, "start_time", minimum=0)
    if not any(t.id == template_id for t in instance.templates):
        raise BillionMailError(400, "Template not found")
    missing = [gid for gid in group_ids if gid not in instance.groups]
    if missing:
        raise BillionMailError(404, f"Contact group not found: {missing[0]}")
    if not _EMAIL.match(addresser):
        raise BillionMailError(412, "The addresser value must be an email address")
    options = {name: flag_param(params, name, 1) for name in ("is_record", "unsubscribe", "track_open", "track_click")}
    options["threads"] = int_param(params, "threads", 5, minimum=0)
    task = Task(
        id=0,
        subject=subject,
        addresser=addresser,
        full_name=str_param(params, "full_name"),
        template_id=template_id,
        group_ids=group_ids,
        start_time=start_time,
        create_time=now,
        recipients=[],
        remark=str_param(params, "remark"),
        options=options,
    )
    if not instance.recipients(group_ids):
        raise BillionMailError(400, "No subscribed contacts in the selected groups")
    created = instance.create_task(task)
    return envelope({"id": created.id}, "Task created successfully")


def delete_task(instance: BillionMailInstance, params: Params, now: int) -> Response:
    del instance.tasks[find_task(instance, params, "id").id]
    return envelope(None, "Task deleted successfully")


def pause_task(instance: BillionMailInstance, params: Params, now: int) -> Response:
    task = find_task(instance, params, "task_id")
    if task.task_process == PAUSED:
        return envelope(None, "Task is already paused")
    # Sandbox sends complete at once, so a task is never caught "running" (1).
    word = _PROCESS_WORDS.get(task.task_process, "in unknown state")
    raise BillionMailError(400, f"Cannot pause task because it is {word}")


def resume_task(instance: BillionMailInstance, params: Params, now: int) -> Response:
    task = find_task(instance, params, "task_id")
    if task.task_process != PAUSED:
        word = _PROCESS_WORDS.get(task.task_process, "in unknown state")
        raise BillionMailError(400, f"Cannot resume task because it is {word}")
    task.pause, task.task_process, task.sent, task.update_time = 0, COMPLETED, len(task.recipients), now
    return envelope(None, "Task resumed successfully")


def list_templates(instance: BillionMailInstance, params: Params, now: int) -> Response:
    keyword = str_param(params, "keyword").lower()
    templates = [t for t in instance.templates if keyword in t.name.lower()]
    total, page = page_of(templates, params)
    items = [
        {"id": t.id, "temp_name": t.name, "add_type": 0, "content": t.content, "render": "",
         "create_time": t.create_time, "update_time": t.create_time}
        for t in page
    ]  # fmt: skip
    return envelope({"total": total, "list": items})


def all_mailboxes(instance: BillionMailInstance, params: Params, now: int) -> Response:
    boxes = [
        {"username": box, "password": "", "full_name": box.split("@")[0].title(), "is_admin": 0,
         "local_part": box.split("@")[0], "domain": DOMAIN, "quota": 5242880, "active": 1,
         "create_time": 0, "update_time": 0}
        for box in instance.mailboxes
    ]  # fmt: skip
    return envelope(boxes)


def list_groups(instance: BillionMailInstance, params: Params, now: int) -> Response:
    keyword = str_param(params, "keyword").lower()
    groups = [gid for gid, g in sorted(instance.groups.items()) if keyword in g.name.lower()]
    total, page = page_of(groups, params)
    return envelope({"total": total, "list": [group_info(instance, gid) for gid in page]})


def all_groups(instance: BillionMailInstance, params: Params, now: int) -> Response:
    return envelope({"list": [group_info(instance, gid) for gid in sorted(instance.groups)]})


def group_detail(instance: BillionMailInstance, params: Params, now: int) -> Response:
    group_id = int_param(params, "group_id", minimum=1)
    if group_id not in instance.groups:
        raise BillionMailError(404, f"Group not found: {group_id}")
    return envelope(group_info(instance, group_id))


def create_group(instance: BillionMailInstance, params: Params, now: int) -> Response:
    name = str_param(params, "name", required=True)
    if int_param(params, "create_type") not in (1, 2):
        raise BillionMailError(412, "The create_type value is not in acceptable range: 1,2 (3 is not simulated)")
    if any(g.name == name for g in instance.groups.values()):
        raise BillionMailError(400, "Group name already exists")
    group = instance.create_group(name, str_param(params, "description"), now)
    _import_lines(instance, [group.id], str_param(params, "file_data"), 1, now)
    return envelope(None, "Group created successfully")


def import_contacts(instance: BillionMailInstance, params: Params, now: int) -> Response:
    group_ids = group_ids_param(params)
    missing = [gid for gid in group_ids if gid not in instance.groups]
    if missing:
        raise BillionMailError(404, f"Group not found: {missing[0]}")
    source = "contacts" if int_param(params, "import_type") == 2 else "file_data"
    count = _import_lines(instance, group_ids, str_param(params, source), flag_param(params, "default_active", 1), now)
    return envelope({"imported_count": count}, "Contacts imported successfully")


def _import_lines(instance: BillionMailInstance, group_ids: list[int], text: str, active: int, now: int) -> int:
    """One `email[,status]` per line; bad lines are skipped, existing (email, group) rows kept."""
    count = 0
    for line in text.splitlines():
        email, _, status = (part.strip() for part in line.partition(","))
        if not _EMAIL.match(email):
            continue
        flag = int(status) if status in ("0", "1") else active
        count += sum(instance.add_row(email.lower(), gid, flag, now) for gid in group_ids)
    return count


def list_contacts(instance: BillionMailInstance, params: Params, now: int) -> Response:
    status = flag_param(params, "status", 1)
    group_id, keyword = int_param(params, "group_id", 0), str_param(params, "keyword").lower()
    rows = [r for r in instance.rows if r.active == status and group_id in (0, r.group_id) and keyword in r.email]
    total, page = page_of(rows, params)
    items = [
        {"id": r.id, "email": r.email, "group_id": r.group_id, "active": r.active, "task_id": 0,
         "create_time": r.create_time, "status": 1, "group_name": instance.groups[r.group_id].name,
         "groups": [{"id": r.group_id, "name": instance.groups[r.group_id].name}],
         "attribs": {}, "last_active_at": 0, "tags": []}
        for r in page
    ]  # fmt: skip
    return envelope({"total": total, "list": items})


ROUTES: tuple[Route[Handler], ...] = (
    Route("GET", "/api/current-user", current_user),
    Route("GET", "/api/batch_mail/task/list", list_tasks),
    Route("GET", "/api/batch_mail/task/find", find),
    Route("POST", "/api/batch_mail/task/create", create_task),
    Route("POST", "/api/batch_mail/task/delete", delete_task),
    Route("POST", "/api/batch_mail/task/pause", pause_task),
    Route("POST", "/api/batch_mail/task/resume", resume_task),
    Route("GET", "/api/email_template/list", list_templates),
    Route("GET", "/api/mailbox/all", all_mailboxes),
    Route("GET", "/api/contact/group/list", list_groups),
    Route("GET", "/api/contact/group/all", all_groups),
    Route("GET", "/api/contact/group/info", group_detail),
    Route("POST", "/api/contact/group/create", create_group),
    Route("POST", "/api/contact/group/import", import_contacts),
    Route("GET", "/api/contact/list", list_contacts),
)


class BillionMailApi(Protocol):
    """What the API adapter needs from the simulator: the caller's instance and the sandbox clock."""

    def instance_for_key(self, request: Request) -> BillionMailInstance: ...

    def now(self) -> int: ...


class BillionMailRoutes:
    """Turns handlers into endpoints: API key -> instance, parameters, errors inside HTTP 200."""

    def __init__(self, api: BillionMailApi) -> None:
        self.api = api

    def endpoint(self, handler: Handler) -> HttpEndpoint:
        async def endpoint(request: Request) -> Response:
            try:
                instance = self.api.instance_for_key(request)
                return handler(instance, await read_params(request), self.api.now())
            except BillionMailError as error:
                return failure(error.code, error.msg)

        return endpoint
