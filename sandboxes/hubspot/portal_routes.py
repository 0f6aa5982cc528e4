"""HTTP routes describing the portal: property definitions and owners."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request

from sandboxes.hubspot.deal_properties import DEAL_OBJECT_TYPES, DEAL_PROPERTY_MAP
from sandboxes.hubspot.errors import ApiError, object_not_found, validation_error
from sandboxes.hubspot.owners import Owner, find_owner, owners_page
from sandboxes.hubspot.properties import (
    CONTACT_OBJECT_TYPES,
    CONTACT_PROPERTY_MAP,
    PropertyDef,
    to_wire,
)
from sandboxes.hubspot.routing import IdProperty, base_url


def registry_for(object_type: str) -> Mapping[str, PropertyDef]:
    """The property definitions of an object type; 400 for a type the sandbox lacks."""
    name = object_type.lower()
    if name in CONTACT_OBJECT_TYPES:
        return CONTACT_PROPERTY_MAP
    if name in DEAL_OBJECT_TYPES:
        return DEAL_PROPERTY_MAP
    raise validation_error(f"Unable to infer object type from: {object_type}")


def portal_router(owners: tuple[Owner, ...]) -> APIRouter:
    """The properties and owners endpoints."""
    router = APIRouter(prefix="/crm/v3")

    @router.get("/properties/{object_type}")
    async def list_properties(object_type: str) -> dict[str, Any]:
        return {"results": [to_wire(p, owners) for p in registry_for(object_type).values()]}

    @router.get("/properties/{object_type}/{property_name}")
    async def get_property(object_type: str, property_name: str) -> dict[str, Any]:
        definition = registry_for(object_type).get(property_name)
        if definition is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f'Property "{property_name}" does not exist')
        return to_wire(definition, owners)

    # The client asks for "/crm/v3/owners/"; both spellings answer, without a redirect.
    @router.get("/owners")
    @router.get("/owners/")
    async def list_owners(request: Request, email: str | None = None, limit: int = 100,
                          after: str | None = None, archived: bool = False) -> dict[str, Any]:
        return owners_page(owners, email=email, limit=limit, after=after, archived=archived,
                           base_url=base_url(request))

    @router.get("/owners/{owner_id}")
    async def get_owner(owner_id: str, id_property: IdProperty = "id") -> dict[str, Any]:
        owner = find_owner(owners, owner_id, id_property or "id")
        if owner is None:
            raise object_not_found()
        return owner.to_wire()

    return router
