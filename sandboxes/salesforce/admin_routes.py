"""The test/demo admin API under ``/__sandbox/``: knobs, sessions, usage and the outbox.

Not part of Salesforce. Every route but the health check needs
``Authorization: Bearer <SALESFORCE_SANDBOX_ADMIN_TOKEN>``.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from sandboxes.salesforce.auth import ApiUsage, Sessions
from sandboxes.salesforce.errors import ApiError
from sandboxes.salesforce.knobs import Knobs, KnobsUpdate
from sandboxes.salesforce.outbound_delivery import OutboundDelivery
from sandboxes.salesforce.outbox import Outbox
from sandboxes.salesforce.settings import SalesforceSandboxSettings

PREFIX = "/__sandbox"


class ExpireSessions(BaseModel):
    """The body of ``POST /__sandbox/sessions/expire``: one token, or (empty) every one."""

    model_config = ConfigDict(extra="forbid")

    access_token: str | None = Field(None, max_length=500)


def admin_guard(settings: SalesforceSandboxSettings) -> Any:
    """A dependency that refuses calls without the admin token."""
    expected = f"Bearer {settings.admin_token.get_secret_value()}".encode()

    async def require_admin(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise ApiError(401, "INVALID_ADMIN_TOKEN",
                           "The sandbox admin API needs Authorization: Bearer "
                           "<SALESFORCE_SANDBOX_ADMIN_TOKEN>")

    return Depends(require_admin)


def add_admin_routes(app: FastAPI, settings: SalesforceSandboxSettings, knobs: Knobs,
                     sessions: Sessions, usage: ApiUsage, outbox: Outbox,
                     delivery: OutboundDelivery) -> None:
    """Add the admin API to ``app``."""
    router = APIRouter(prefix=PREFIX, dependencies=[admin_guard(settings)])

    @router.get("/knobs")
    async def get_knobs() -> dict[str, Any]:
        return knobs.snapshot()

    @router.post("/knobs")
    async def set_knobs(change: KnobsUpdate) -> dict[str, Any]:
        knobs.update(change)
        delivery.wake()
        return knobs.snapshot()

    @router.delete("/knobs")
    async def reset_knobs() -> dict[str, Any]:
        knobs.reset()
        delivery.wake()
        return knobs.snapshot()

    @router.post("/sessions/expire")
    async def expire_sessions(body: ExpireSessions | None = None) -> dict[str, int]:
        """The next call with an expired token gets 401 INVALID_SESSION_ID."""
        return {"expired": sessions.expire(body.access_token if body else None)}

    @router.get("/usage")
    async def api_usage() -> dict[str, Any]:
        return {"used": usage.used(), "limit": usage.limit, "by_client": usage.by_client()}

    @router.get("/outbound")
    async def outbound(limit: int = 100) -> dict[str, Any]:
        return outbox.summary(max(1, min(limit, 1000)))

    app.include_router(router)
