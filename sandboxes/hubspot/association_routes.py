"""HTTP routes of the v4 associations API (default deal-contact associations)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandboxes.hubspot.associations import AssociationService
from sandboxes.hubspot.payloads import BatchAssociationInput, read_body
from sandboxes.hubspot.routing import answer


def association_router(associations: AssociationService) -> APIRouter:
    """The association endpoints."""
    router = APIRouter(prefix="/crm/v4")

    @router.put("/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")
    async def associate_default(from_type: str, from_id: str, to_type: str,
                                to_id: str) -> dict[str, Any]:
        return associations.associate_default(from_type, from_id, to_type, to_id)

    @router.post("/associations/{from_type}/{to_type}/batch/associate/default")
    async def associate_default_batch(request: Request, from_type: str,
                                      to_type: str) -> JSONResponse:
        body = await read_body(request, BatchAssociationInput)
        return answer(associations.associate_default_batch(from_type, to_type, body.inputs))

    @router.get("/objects/{object_type}/{object_id}/associations/{to_type}")
    async def list_associations(object_type: str, object_id: str, to_type: str,
                                limit: int = 500, after: str | None = None) -> dict[str, Any]:
        return associations.list_associated(object_type, object_id, to_type, limit, after)

    return router
