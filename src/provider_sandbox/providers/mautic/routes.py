"""Mautic API handlers under /mautic/api: campaigns, segments and contacts.

Paths and answers follow Mautic's CommonApiController / ListApiController: GET lists take
start, limit, search, orderBy, orderByDir, published; `POST .../new` answers 201; `PATCH
.../{id}/edit` 404s for an unknown id; segment membership answers `{"success": 1}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from fastapi import Request, Response

from provider_sandbox.core.clock import SandboxClock
from provider_sandbox.core.framework import json_response
from provider_sandbox.core.routing import HttpEndpoint, Route
from provider_sandbox.providers.mautic.store import Campaign, Contact, MauticInstance, alias_of
from provider_sandbox.providers.mautic.wire import (
    NOT_FOUND,
    MauticApiError,
    apply_campaign,
    as_bool,
    entity_id,
    invalid,
    listing,
    ordered,
    read_body,
)

Handler = Callable[["MauticRoutes", MauticInstance, Request, dict[str, str]], Awaitable[Response]]


class MauticApi(Protocol):
    """What the API handlers need from the simulator: the caller's instance and the sandbox clock."""

    @property
    def clock(self) -> SandboxClock: ...

    def authorize(self, request: Request) -> MauticInstance | Response: ...


class MauticRoutes:
    """The API handlers; `endpoint` adds what they share: the bearer token -> instance, errors."""

    def __init__(self, api: MauticApi) -> None:
        self.api = api

    def now(self) -> datetime:
        return self.api.clock.now()

    def endpoint(self, handler: Handler) -> HttpEndpoint:
        async def endpoint(request: Request) -> Response:
            instance = self.api.authorize(request)
            if isinstance(instance, Response):
                return instance
            try:
                return await handler(self, instance, request, dict(request.path_params))
            except MauticApiError as error:
                return error.response()

        return endpoint

    # --- campaigns -----------------------------------------------------------------------------

    async def campaigns(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        search = request.query_params.get("search", "").lower()
        published = request.query_params.get("published")
        records = [
            c
            for c in instance.campaigns.values()
            if search in c.name.lower() and (published is None or c.is_published == as_bool("published", published))
        ]
        fields = {"id": lambda c: c.id, "name": lambda c: c.name, "dateAdded": lambda c: c.date_added}
        items = [(c.id, instance.campaign_json(c)) for c in ordered(request, records, fields)]
        return listing("campaigns", items, request)

    def campaign_of(self, instance: MauticInstance, raw: str) -> Campaign:
        campaign = instance.campaigns.get(entity_id(raw))
        if campaign is None:
            raise MauticApiError(404, NOT_FOUND)
        return campaign

    async def campaign(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        return json_response({"campaign": instance.campaign_json(self.campaign_of(instance, path["id"]))})

    async def new_campaign(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        data = await read_body(request)
        if not isinstance(data.get("name"), str) or not data["name"].strip():
            raise invalid("name", "A value is required.")
        campaign = Campaign(id=0, name="", description="", is_published=False, date_added=self.now())
        apply_campaign(instance, campaign, data)
        instance.add_campaign(campaign)
        return json_response({"campaign": instance.campaign_json(campaign)}, 201)

    async def edit_campaign(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        campaign = self.campaign_of(instance, path["id"])
        data = await read_body(request)
        apply_campaign(instance, campaign, data)
        campaign.date_modified = self.now()
        return json_response({"campaign": instance.campaign_json(campaign)})

    # --- segments ------------------------------------------------------------------------------

    async def segments(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        search = request.query_params.get("search", "").lower()
        records = [s for s in instance.segments.values() if search in s.name.lower() or search in s.alias]
        fields = {"id": lambda s: s.id, "name": lambda s: s.name, "alias": lambda s: s.alias}
        return listing("lists", [(s.id, instance.segment_json(s)) for s in ordered(request, records, fields)], request)

    async def segment(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        segment = instance.segments.get(entity_id(path["id"]))
        if segment is None:
            raise MauticApiError(404, NOT_FOUND)
        return json_response({"list": instance.segment_json(segment)})

    async def new_segment(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        data = await read_body(request)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("name", "A value is required.")
        alias = alias_of(str(data.get("alias") or name))
        taken = {s.alias for s in instance.segments.values()}
        suffix = 1
        while alias in taken:  # Mautic makes aliases unique by appending a number
            alias, suffix = f"{alias_of(str(data.get('alias') or name))}{suffix}", suffix + 1
        segment = instance.add_segment(name.strip(), str(data.get("description") or ""), self.now(), alias)
        if "isPublished" in data:
            segment.is_published = as_bool("isPublished", data["isPublished"])
        return json_response({"list": instance.segment_json(segment)}, 201)

    def membership(self, instance: MauticInstance, path: dict[str, str]) -> tuple[int, Contact]:
        segment_id, contact_id = entity_id(path["id"]), entity_id(path["contact_id"])
        contact = instance.contacts.get(contact_id)
        if segment_id not in instance.segments or contact is None:
            raise MauticApiError(404, NOT_FOUND)
        return segment_id, contact

    async def add_member(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        segment_id, contact = self.membership(instance, path)
        instance.members[segment_id][contact.id] = None
        return json_response({"success": 1})

    async def remove_member(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        segment_id, contact = self.membership(instance, path)
        instance.members[segment_id].pop(contact.id, None)
        return json_response({"success": 1})

    async def add_members(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        ids = (await read_body(request)).get("ids")
        if not isinstance(ids, list):
            raise MauticApiError(400, "Bad Request - ids must be a list of contact ids.")
        segment_id = entity_id(path["id"])
        if segment_id not in instance.segments:
            raise MauticApiError(404, NOT_FOUND)
        details: dict[str, dict[str, bool]] = {}
        for raw in ids:
            contact = instance.contacts.get(int(raw)) if str(raw).isdigit() else None
            if contact is not None:
                instance.members[segment_id][contact.id] = None
            details[str(raw)] = {"success": contact is not None}
        return json_response({"success": 1, "details": details})

    # --- contacts ------------------------------------------------------------------------------

    def search_contacts(self, instance: MauticInstance, search: str) -> list[Contact]:
        """`segment:<alias>` (or the older `list:`), `email:<address>`, `ids:1,2`, or free text."""
        command, _, value = search.partition(":")
        if value and command in ("segment", "list"):
            segment = next((s for s in instance.segments.values() if s.alias == value), None)
            members = instance.members[segment.id] if segment else {}
            return [instance.contacts[cid] for cid in sorted(members)]
        if value and command == "email":
            return [c for c in instance.contacts.values() if c.email.lower() == value.lower()]
        if value and command == "ids":
            wanted = {int(part) for part in value.split(",") if part.strip().isdigit()}
            return [c for c in instance.contacts.values() if c.id in wanted]
        text = search.lower()
        return [c for c in instance.contacts.values() if text in f"{c.email} {c.firstname} {c.lastname}".lower()]

    async def contacts(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        records = self.search_contacts(instance, request.query_params.get("search", "").strip())
        fields = {"id": lambda c: c.id, "email": lambda c: c.email, "dateAdded": lambda c: c.date_added}
        items = [(c.id, instance.contact_json(c)) for c in ordered(request, records, fields)]
        # LeadApiController passes the COUNT(...) through as a string: "total": "120".
        return listing("contacts", items, request, total_as_text=True)

    async def contact(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        contact = instance.contacts.get(entity_id(path["id"]))
        if contact is None:
            raise MauticApiError(404, NOT_FOUND)
        return json_response({"contact": instance.contact_json(contact)})

    async def new_contact(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        data = await read_body(request)
        email = str(data.get("email") or "").strip().lower()
        if "@" not in email:
            raise invalid("email", "A valid email address is required.")
        existing = next((c for c in instance.contacts.values() if c.email == email), None)
        contact = existing or instance.add_contact(
            email, str(data.get("firstname") or ""), str(data.get("lastname") or ""),
            str(data.get("company") or ""), self.now(),
        )  # fmt: skip
        return json_response({"contact": instance.contact_json(contact)}, 201)

    async def contact_segments(self, instance: MauticInstance, request: Request, path: dict[str, str]) -> Response:
        contact_id = entity_id(path["id"])
        if contact_id not in instance.contacts:
            raise MauticApiError(404, NOT_FOUND)
        lists = {
            str(s.id): {"id": s.id, "name": s.name, "alias": s.alias}
            for s in instance.segments.values()
            if contact_id in instance.members[s.id]
        }
        return json_response({"total": len(lists), "lists": lists or []})


ROUTES: tuple[Route[Handler], ...] = (
    Route("GET", "/api/campaigns", MauticRoutes.campaigns),
    Route("POST", "/api/campaigns/new", MauticRoutes.new_campaign),
    Route("GET", "/api/campaigns/{id}", MauticRoutes.campaign),
    Route("PATCH", "/api/campaigns/{id}/edit", MauticRoutes.edit_campaign),
    Route("GET", "/api/segments", MauticRoutes.segments),
    Route("POST", "/api/segments/new", MauticRoutes.new_segment),
    Route("GET", "/api/segments/{id}", MauticRoutes.segment),
    Route("POST", "/api/segments/{id}/contact/{contact_id}/add", MauticRoutes.add_member),
    Route("POST", "/api/segments/{id}/contact/{contact_id}/remove", MauticRoutes.remove_member),
    Route("POST", "/api/segments/{id}/contacts/add", MauticRoutes.add_members),
    Route("GET", "/api/contacts", MauticRoutes.contacts),
    Route("POST", "/api/contacts/new", MauticRoutes.new_contact),
    Route("GET", "/api/contacts/{id}", MauticRoutes.contact),
    Route("GET", "/api/contacts/{id}/segments", MauticRoutes.contact_segments),
)
