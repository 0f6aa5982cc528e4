"""The sandbox's own admin API under ``/__sandbox/`` (not part of HubSpot; never rate limited).

Every route but the health check needs ``Authorization: Bearer <HUBSPOT_SANDBOX_ADMIN_TOKEN>``.

* ``GET /__sandbox/health``
* ``GET|POST|DELETE /__sandbox/knobs``: latency, error rate, outage, rate limits
* ``POST /__sandbox/rep/{contacts|deals}[/{id}]``: a sales rep creates or edits a record in
  HubSpot's UI (webhooks say ``CRM_UI``), body ``{"properties": {...}, "owner_id": ...}``
* ``GET /__sandbox/webhooks``: what webhook delivery has done so far
* ``GET /__sandbox/usage``: calls counted today and in the rolling 10 s, 429s by policy
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from sandboxes.hubspot.associations import kind_of
from sandboxes.hubspot.changes import ChangeSource
from sandboxes.hubspot.contacts import ContactService
from sandboxes.hubspot.deals import DealService
from sandboxes.hubspot.errors import ApiError, validation_error
from sandboxes.hubspot.knobs import Knobs, KnobsInput
from sandboxes.hubspot.owners import Owner, find_owner
from sandboxes.hubspot.payloads import PropertyValue, read_body, texts
from sandboxes.hubspot.rate_limits import utc_day
from sandboxes.hubspot.routing import IdProperty
from sandboxes.hubspot.store import ContactStore
from sandboxes.hubspot.webhook_delivery import WebhookDispatcher


class RepChange(BaseModel):
    """What a sales rep types into a record, and which owner (user) the rep is."""

    model_config = ConfigDict(extra="forbid")

    properties: dict[str, PropertyValue]
    owner_id: str | None = None


@dataclass(frozen=True)
class AdminParts:
    """What the admin API works on."""

    admin_token: str
    contacts: ContactService
    deals: DealService
    owners: tuple[Owner, ...]
    knobs: Knobs
    default_knobs: Callable[[], Knobs]
    dispatcher: WebhookDispatcher | None
    store: ContactStore | None = None


def _rep_source(owners: tuple[Owner, ...], owner_id: str | None) -> ChangeSource:
    people = [o for o in owners if o.type == "PERSON"]
    owner = find_owner(owners, owner_id) if owner_id else (people[0] if people else None)
    if owner is None:
        raise validation_error(f"{owner_id or 'No owner'} is not an owner of this portal")
    return ChangeSource.crm_ui(owner.user_id)


def health_router() -> APIRouter:
    """``GET /__sandbox/health``, open to anyone (launchers poll it)."""
    router = APIRouter(prefix="/__sandbox")

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return router


def _admin_guard(admin_token: str) -> Any:
    expected = f"Bearer {admin_token}".encode()

    async def require_admin(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            raise ApiError(401, "INVALID_ADMIN_TOKEN",
                           "The sandbox admin API needs Authorization: Bearer "
                           "<HUBSPOT_SANDBOX_ADMIN_TOKEN>")

    return Depends(require_admin)


def admin_router(parts: AdminParts) -> APIRouter:
    """The admin endpoints, behind the admin token."""
    router = APIRouter(prefix="/__sandbox", dependencies=[_admin_guard(parts.admin_token)])
    knobs = parts.knobs

    @router.get("/knobs")
    async def show_knobs() -> dict[str, float | int]:
        return knobs.to_wire()

    @router.post("/knobs")
    async def set_knobs(request: Request) -> dict[str, float | int]:
        knobs.apply(await read_body(request, KnobsInput))
        return knobs.to_wire()

    @router.delete("/knobs")
    async def reset_knobs() -> dict[str, float | int]:
        knobs.reset_to(parts.default_knobs())
        return knobs.to_wire()

    @router.post("/rep/{object_type}", status_code=201)
    async def rep_creates(request: Request, object_type: str) -> dict[str, Any]:
        change = await read_body(request, RepChange)
        source = _rep_source(parts.owners, change.owner_id)
        if kind_of(object_type) == "contact":
            return parts.contacts.create(texts(change.properties), source=source)
        return parts.deals.create(texts(change.properties), source=source)

    @router.post("/rep/{object_type}/{object_id}")
    async def rep_edits(request: Request, object_type: str, object_id: str,
                        id_property: IdProperty = None) -> dict[str, Any]:
        change = await read_body(request, RepChange)
        source = _rep_source(parts.owners, change.owner_id)
        values = texts(change.properties)
        if kind_of(object_type) == "contact":
            return parts.contacts.update(object_id, id_property, values, source=source)
        return parts.deals.update(object_id, id_property, values, source=source)

    @router.get("/usage")
    async def api_usage() -> dict[str, Any]:
        """What the private app's limits count, read without counting a call."""
        if parts.store is None:
            return {}
        now = time.time()
        usage = parts.store.usage(now, utc_day(now))
        return {"today": usage.today, "last_ten_seconds": usage.last_ten_seconds,
                "ten_second_limit": knobs.ten_second_limit, "daily_limit": knobs.daily_limit,
                "refused": dict(parts.store.refused)}

    @router.get("/webhooks")
    async def webhook_status() -> dict[str, Any]:
        if parts.dispatcher is None:
            return {"targetUrl": None, "queued": 0, "inFlightBatches": 0,
                    "deliveredEvents": 0, "failedEvents": 0, "attempts": []}
        return parts.dispatcher.status()

    return router
