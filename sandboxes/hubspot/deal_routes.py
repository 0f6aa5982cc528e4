"""HTTP routes of ``/crm/v3/objects/deals``: single records and batches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandboxes.hubspot.contacts import requested_names
from sandboxes.hubspot.deal_batches import DealBatches
from sandboxes.hubspot.deals import DealService
from sandboxes.hubspot.payloads import (
    BatchCreateInput,
    BatchReadInput,
    BatchUpsertInput,
    ObjectInput,
    read_body,
    texts,
)
from sandboxes.hubspot.routing import Associations, IdProperty, Names, answer, base_url


def deal_router(deals: DealService) -> APIRouter:
    """The deal endpoints."""
    router = APIRouter(prefix="/crm/v3/objects/deals")
    batches = DealBatches(deals)

    @router.get("")
    async def list_deals(request: Request, limit: int = 10, after: str | None = None,
                         properties: Names = None) -> dict[str, Any]:
        return deals.list_page(limit, after, requested_names(properties), base_url(request))

    @router.post("", status_code=201)
    async def create_deal(request: Request) -> dict[str, Any]:
        body = await read_body(request, ObjectInput)
        return deals.create(texts(body.properties), body.associations)

    @router.post("/batch/read")
    async def read_deals(request: Request) -> JSONResponse:
        return answer(batches.read(await read_body(request, BatchReadInput)))

    @router.post("/batch/create")
    async def create_deals(request: Request) -> JSONResponse:
        return answer(batches.create((await read_body(request, BatchCreateInput)).inputs))

    @router.post("/batch/update")
    async def update_deals(request: Request) -> JSONResponse:
        return answer(batches.update((await read_body(request, BatchUpsertInput)).inputs))

    @router.post("/batch/upsert")
    async def upsert_deals(request: Request) -> JSONResponse:
        return answer(batches.upsert((await read_body(request, BatchUpsertInput)).inputs))

    @router.get("/{deal_id}")
    async def get_deal(deal_id: str, id_property: IdProperty = None, properties: Names = None,
                       associations: Associations = None) -> dict[str, Any]:
        return deals.get(deal_id, id_property, requested_names(properties),
                         requested_names(associations))

    @router.patch("/{deal_id}")
    async def update_deal(request: Request, deal_id: str,
                          id_property: IdProperty = None) -> dict[str, Any]:
        body = await read_body(request, ObjectInput)
        return deals.update(deal_id, id_property, texts(body.properties))

    return router
