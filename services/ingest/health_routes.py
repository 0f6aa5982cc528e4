"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "live"}


@router.get("/health/ready", responses={503: {"description": "Kafka is not reachable"}})
async def ready(request: Request) -> JSONResponse:
    """Ready when the producer is connected and the cluster answers."""
    if await request.app.state.publisher.ready():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "reason": "Kafka is not reachable"},
                        status_code=503)
