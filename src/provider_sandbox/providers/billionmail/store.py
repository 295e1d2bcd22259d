"""The state of one BillionMail instance: templates, mailboxes, contact groups, contacts, tasks.

Modelled on BillionMail's schema (aaPanel/BillionMail, core/api/*/v1): a contact is one row per
(email, group) with its own `active` flag (1 subscribed, 0 unsubscribed), so the same address can
sit in several groups and be unsubscribed in only some of them. A task's recipients are frozen
when it is created: the DISTINCT addresses that have a subscribed row in at least one of its
groups. `task_process` follows BillionMail: 0 not started, 1 running, 2 completed, 3 paused.
Sending is instant once `start_time` has passed on the sandbox clock (no real mail leaves).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from provider_sandbox.core.seed import SEED_ANCHOR, make_contact

NOT_STARTED, RUNNING, COMPLETED, PAUSED = 0, 1, 2, 3
DOMAIN = "sandbox-mail.example.com"
# A start time far in the future: seeded "scheduled" tasks never fire on their own.
FAR_FUTURE = 4_102_444_800  # 2100-01-01
_GROUPS = (
    ("Newsletter", "Monthly newsletter subscribers"),
    ("Customers", "Paying customers"),
    ("VIP", "Top accounts"),
    ("Event attendees", "People who came to an event"),
)


@dataclass
class Template:
    id: int
    name: str
    content: str
    create_time: int


@dataclass
class Group:
    id: int
    name: str
    description: str
    create_time: int
    update_time: int


@dataclass
class ContactRow:
    id: int
    email: str
    group_id: int
    active: int  # 1 subscribed, 0 unsubscribed (per group)
    create_time: int


@dataclass
class Task:
    id: int
    subject: str
    addresser: str
    full_name: str
    template_id: int
    group_ids: list[int]
    start_time: int
    create_time: int
    recipients: list[str]
    remark: str = ""
    task_process: int = NOT_STARTED
    pause: int = 0
    sent: int = 0
    update_time: int = 0
    options: dict[str, int] = field(default_factory=dict)  # is_record, unsubscribe, threads, ...


def _epoch(offset_s: int) -> int:
    return int(SEED_ANCHOR.timestamp()) + offset_s


class BillionMailInstance:
    def __init__(self, tenant_id: str, api_key: str, tasks: int, contacts: int) -> None:
        self.tenant_id = tenant_id
        self.api_key = api_key
        self.templates = [
            Template(i, name, f"<html><body><h1>{name}</h1>{{{{ unsubscribe }}}}</body></html>", _epoch(-90 * 86400))
            for i, name in enumerate(("Monthly newsletter", "Product launch", "Win-back offer"), start=1)
        ]
        self.mailboxes = [f"newsletter@{DOMAIN}", f"marketing@{DOMAIN}"]
        self.groups: dict[int, Group] = {}
        self.rows: list[ContactRow] = []
        self._row_keys: set[tuple[str, int]] = set()
        self.tasks: dict[int, Task] = {}
        self._next_row = 1
        self._next_task = 1
        self.seeded_tasks = 0
        self.seeded_contacts = 0
        for name, description in _GROUPS:
            self.create_group(name, description, _epoch(-120 * 86400))
        self.grow(tasks, contacts)

    # --- contacts and groups -------------------------------------------------------------------

    def create_group(self, name: str, description: str, now: int) -> Group:
        group = Group(max(self.groups, default=0) + 1, name, description, now, now)
        self.groups[group.id] = group
        return group

    def add_row(self, email: str, group_id: int, active: int, now: int) -> bool:
        """Insert (email, group) unless present; False for a duplicate within the group."""
        if (email, group_id) in self._row_keys:
            return False
        self._row_keys.add((email, group_id))
        self.rows.append(ContactRow(self._next_row, email, group_id, active, now))
        self._next_row += 1
        return True

    def _seed_contacts(self, count: int) -> None:
        """Overlapping groups with some unsubscribed rows, deterministic for (tenant, i)."""
        for i in range(self.seeded_contacts + 1, count + 1):
            email = make_contact(self.tenant_id, i).email
            member_of = [
                gid for gid, keep in ((1, i % 5 < 3), (2, i % 5 >= 2), (3, i % 4 == 0), (4, i % 3 == 0)) if keep
            ]
            for gid in member_of or [1]:
                # About one row in ten is unsubscribed, in some groups only.
                self.add_row(email, gid, 0 if (i * 7 + gid) % 10 == 0 else 1, _epoch(-100 * 86400 + i))
        self.seeded_contacts = max(self.seeded_contacts, count)

    def recipients(self, group_ids: list[int]) -> list[str]:
        """Distinct addresses with a subscribed row in any of the groups, in first-seen order."""
        wanted = set(group_ids)
        seen: dict[str, None] = {}
        for row in self.rows:
            if row.group_id in wanted and row.active == 1:
                seen.setdefault(row.email, None)
        return list(seen)

    def group_counts(self, group_id: int) -> tuple[int, int]:
        rows = [r for r in self.rows if r.group_id == group_id]
        return len(rows), sum(r.active for r in rows)

    # --- tasks ---------------------------------------------------------------------------------

    def create_task(self, task: Task) -> Task:
        """Store a task built with id 0: assign its id and freeze its recipients."""
        task.id = self._next_task
        task.recipients = self.recipients(task.group_ids)
        task.update_time = task.create_time
        self._next_task += 1
        self.tasks[task.id] = task
        return task

    def _seed_task(self, seq: int) -> None:
        rng = random.Random(f"{self.tenant_id}:task:{seq}")  # noqa: S311 - reproducible, not secret
        created = _epoch(-86400 * 400 + seq * 3600)
        task = self.create_task(
            Task(
                id=0,
                subject=f"{rng.choice(('Spring', 'Summer', 'Autumn', 'Winter'))} update #{seq}",
                addresser=rng.choice(self.mailboxes),
                full_name="Sandbox Marketing",
                template_id=rng.randint(1, len(self.templates)),
                group_ids=sorted(rng.sample(sorted(self.groups)[:4], rng.randint(1, 2))),
                start_time=created + 600,
                create_time=created,
                recipients=[],
                remark=f"seeded task {seq}",
            )
        )
        roll = rng.random()
        if roll < 0.03:  # scheduled, far ahead
            task.start_time = FAR_FUTURE
        elif roll < 0.07:  # paused half-way
            task.task_process, task.pause, task.sent = PAUSED, 1, len(task.recipients) // 2
        else:
            task.task_process, task.sent = COMPLETED, len(task.recipients)

    def grow(self, tasks: int, contacts: int) -> None:
        """Seed up to `tasks` seeded tasks and `contacts` addresses; existing records never change.

        Seeded tasks take the next ids, so grow before creating tasks through the API if the ids
        matter (the control API refuses to shrink: BillionMail never renumbers).
        """
        self._seed_contacts(contacts)
        while self.seeded_tasks < tasks:
            self.seeded_tasks += 1
            self._seed_task(self.seeded_tasks)

    def run_due(self, now: int) -> None:
        """Tasks whose start time has come are sent (instantly: the sandbox delivers nothing)."""
        for task in self.tasks.values():
            if task.task_process == NOT_STARTED and task.pause == 0 and task.start_time <= now:
                task.task_process, task.sent, task.update_time = COMPLETED, len(task.recipients), now
