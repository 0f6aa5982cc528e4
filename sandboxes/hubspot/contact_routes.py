"""HTTP routes of ``/crm/v3/objects/contacts``: thin handlers over the contact service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sandboxes.hubspot.associations import AssociationService
from sandboxes.hubspot.contacts import ContactService, requested_names
from sandboxes.hubspot.deal_properties import DEAL_OBJECT_TYPES
from sandboxes.hubspot.payloads import (
    BatchUpsertInput,
    ObjectInput,
    SearchInput,
    read_body,
    texts,
)
from sandboxes.hubspot.routing import Associations, IdProperty, Names, base_url


def contact_router(contacts: ContactService, associations: AssociationService) -> APIRouter:
    """The contact endpoints."""
    router = APIRouter(prefix="/crm/v3/objects/contacts")

    @router.get("")
    async def list_contacts(request: Request, limit: int = 10, after: str | None = None,
                            properties: Names = None) -> dict[str, Any]:
        return contacts.list_page(limit, after, requested_names(properties), base_url(request))

    @router.post("", status_code=201)
    async def create_contact(request: Request) -> dict[str, Any]:
        body = await read_body(request, ObjectInput)
        deal_ids = associations.deals_for_new_contact(body.associations)
        created = contacts.create(texts(body.properties))
        associations.link_contact(int(created["id"]), deal_ids)
        return created

    @router.post("/search")
    async def search_contacts(request: Request) -> dict[str, Any]:
        return contacts.search(await read_body(request, SearchInput))

    @router.post("/batch/upsert")
    async def upsert_contacts(request: Request) -> dict[str, Any]:
        body = await read_body(request, BatchUpsertInput)
        return contacts.upsert_batch(body.inputs)

    @router.get("/{contact_id}")
    async def get_contact(contact_id: str, id_property: IdProperty = None,
                          properties: Names = None,
                          associated: Associations = None) -> dict[str, Any]:
        contact = contacts.get(contact_id, id_property, requested_names(properties))
        if set(requested_names(associated)) & DEAL_OBJECT_TYPES:
            contact["associations"] = associations.deals_of_contact(contact["id"])
        return contact

    @router.patch("/{contact_id}")
    async def update_contact(request: Request, contact_id: str,
                             id_property: IdProperty = None) -> dict[str, Any]:
        body = await read_body(request, ObjectInput)
        return contacts.update(contact_id, id_property, texts(body.properties))

    return router
