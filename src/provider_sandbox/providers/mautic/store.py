"""The state of one Mautic instance (campaigns, segments, contacts) and its JSON renderings.

Shapes follow Mautic's API serialisation (mautic/mautic, CampaignBundle/LeadBundle entities with
the API serializer groups): camelCase keys, ISO 8601 dates with offset, integer ids.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from provider_sandbox.core.seed import SEED_ANCHOR, make_contact

_SEGMENTS = (
    ("Newsletter subscribers", "Everyone who opted in to the newsletter"),
    ("Customers", "Contacts with at least one purchase"),
    ("Trial users", "Contacts on a trial"),
    ("Webinar leads", "Signed up for a webinar (empty at first)"),
)
ADMIN = (1, "Sandbox Admin")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def alias_of(name: str) -> str:
    """Mautic derives a segment alias from its name: lower case, dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "segment"


@dataclass
class Campaign:
    id: int
    name: str
    description: str
    is_published: bool
    date_added: datetime
    date_modified: datetime | None = None
    publish_up: str | None = None
    publish_down: str | None = None
    allow_restart: bool = False
    segment_ids: list[int] = field(default_factory=list)


@dataclass
class Segment:
    id: int
    name: str
    alias: str
    description: str
    date_added: datetime
    is_published: bool = True
    is_global: bool = True


@dataclass
class Contact:
    id: int
    email: str
    firstname: str
    lastname: str
    company: str
    date_added: datetime
    points: int = 0


class MauticInstance:
    def __init__(self, tenant_id: str, campaigns: int, contacts: int) -> None:
        self.tenant_id = tenant_id
        self.campaigns: dict[int, Campaign] = {}
        self.segments: dict[int, Segment] = {}
        self.contacts: dict[int, Contact] = {}
        # segment id -> contact ids, in the order they were added
        self.members: dict[int, dict[int, None]] = {}
        self.seeded_campaigns = 0
        for name, description in _SEGMENTS:
            self.add_segment(name, description, SEED_ANCHOR - timedelta(days=200))
        self.grow(campaigns, contacts)

    def add_segment(self, name: str, description: str, now: datetime, alias: str | None = None) -> Segment:
        segment = Segment(max(self.segments, default=0) + 1, name, alias or alias_of(name), description, now)
        self.segments[segment.id] = segment
        self.members[segment.id] = {}
        return segment

    def add_contact(self, email: str, firstname: str, lastname: str, company: str, now: datetime) -> Contact:
        contact = Contact(max(self.contacts, default=0) + 1, email, firstname, lastname, company, now)
        self.contacts[contact.id] = contact
        return contact

    def add_campaign(self, campaign: Campaign) -> Campaign:
        campaign.id = max(self.campaigns, default=0) + 1
        self.campaigns[campaign.id] = campaign
        return campaign

    def grow(self, campaigns: int, contacts: int) -> None:
        """Seed more contacts and campaigns; record i is always the same record i."""
        for seq in range(len(self.contacts) + 1, contacts + 1):
            base = make_contact(self.tenant_id, seq)
            contact = self.add_contact(base.email, base.first_name, base.last_name, base.company, base.created_at)
            for segment_id, keep in ((1, seq % 2 == 0), (2, seq % 3 == 0), (3, seq <= 20)):
                if keep:
                    self.members[segment_id][contact.id] = None
        while self.seeded_campaigns < campaigns:
            self.seeded_campaigns += 1
            seq = self.seeded_campaigns
            rng = random.Random(f"{self.tenant_id}:campaign:{seq}")  # noqa: S311 - reproducible, not secret
            self.add_campaign(
                Campaign(
                    id=0,
                    name=f"{rng.choice(('Onboarding', 'Re-engagement', 'Upsell', 'Nurture'))} campaign {seq}",
                    description=f"Seeded campaign {seq}",
                    is_published=rng.random() < 0.6,
                    date_added=SEED_ANCHOR - timedelta(days=300) + timedelta(hours=seq),
                    segment_ids=sorted(rng.sample([1, 2, 3], rng.randint(1, 2))),
                )
            )

    # --- renderings ----------------------------------------------------------------------------

    def segment_json(self, segment: Segment) -> dict[str, Any]:
        return {
            "isPublished": segment.is_published,
            "dateAdded": iso(segment.date_added),
            "dateModified": None,
            "createdBy": ADMIN[0],
            "createdByUser": ADMIN[1],
            "modifiedBy": None,
            "modifiedByUser": None,
            "id": segment.id,
            "name": segment.name,
            "publicName": segment.name,
            "alias": segment.alias,
            "description": segment.description,
            "category": None,
            "filters": [],
            "isGlobal": segment.is_global,
            "isPreferenceCenter": False,
        }

    def campaign_json(self, campaign: Campaign) -> dict[str, Any]:
        return {
            "isPublished": campaign.is_published,
            "dateAdded": iso(campaign.date_added),
            "dateModified": iso(campaign.date_modified),
            "createdBy": ADMIN[0],
            "createdByUser": ADMIN[1],
            "modifiedBy": ADMIN[0] if campaign.date_modified else None,
            "modifiedByUser": ADMIN[1] if campaign.date_modified else None,
            "id": campaign.id,
            "name": campaign.name,
            "category": None,
            "description": campaign.description,
            "allowRestart": campaign.allow_restart,
            "publishUp": campaign.publish_up,
            "publishDown": campaign.publish_down,
            "events": [],
            "forms": [],
            "lists": [
                {"id": s.id, "name": s.name, "alias": s.alias, "description": s.description}
                for s in (self.segments.get(sid) for sid in campaign.segment_ids)
                if s is not None
            ],
            "canvasSettings": {"nodes": [], "connections": []},
        }

    def contact_json(self, contact: Contact) -> dict[str, Any]:
        values = {
            "email": contact.email,
            "firstname": contact.firstname,
            "lastname": contact.lastname,
            "company": contact.company,
        }
        core = {
            alias: {"id": str(i), "label": alias.title(), "alias": alias, "group": "core", "object": "lead",
                    "type": "email" if alias == "email" else "text", "is_fixed": "1", "value": value}
            for i, (alias, value) in enumerate(values.items(), start=1)
        }  # fmt: skip
        return {
            "isPublished": True,
            "dateAdded": iso(contact.date_added),
            "dateModified": None,
            "createdBy": ADMIN[0],
            "createdByUser": ADMIN[1],
            "modifiedBy": None,
            "modifiedByUser": None,
            "id": contact.id,
            "points": contact.points,
            "color": None,
            "fields": {"core": core, "all": {"id": contact.id, **values}},
            "lastActive": None,
            "owner": None,
            "ipAddresses": [],
            "tags": [],
            "utmtags": [],
            "stage": None,
            "dateIdentified": iso(contact.date_added),
            "preferredProfileImage": "gravatar",
            "doNotContact": [],
            "frequencyRules": [],
        }
