"""What every call under ``/services/`` passes first: the knobs' latency and faults, the
session check, the daily API count (with the Sforce-Call-Options client) and, on every REST
answer, the ``Sforce-Limit-Info`` header."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.salesforce.auth import ApiUsage, Sessions
from sandboxes.salesforce.errors import ApiError, server_unavailable, unable_to_lock_row
from sandboxes.salesforce.knobs import Knobs

_VERSIONS_PATHS = ("/services/data", "/services/data/")
_WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_MAX_CLIENT_LENGTH = 255
CallNext = Callable[[Request], Awaitable[Response]]


def error_response(error: ApiError) -> Response:
    """``error`` as Salesforce answers it."""
    return JSONResponse(error.body(), error.status)


def call_options_client(header: str | None) -> str | None:
    """The ``client`` of a ``Sforce-Call-Options`` header (``client=name/1.0, ...``)."""
    for option in (header or "").replace(";", ",").split(","):
        name, _, value = option.partition("=")
        if name.strip().lower() == "client" and value.strip():
            return value.strip()[:_MAX_CLIENT_LENGTH]
    return None


def lock_fault_drawn(request: Request) -> bool:
    """Whether the gate drew UNABLE_TO_LOCK_ROW for a call that answers per record."""
    return bool(getattr(request.state, "lock_fault", False))


def _answers_per_record(request: Request) -> bool:
    return "/composite/sobjects" in request.url.path


def install_api_gate(app: FastAPI, sessions: Sessions, usage: ApiUsage, knobs: Knobs) -> None:
    """Put the gate in front of every route of ``app`` under ``/services/``."""

    async def metered(request: Request, call_next: CallNext) -> Response:
        try:
            sessions.user_for(request.headers.get("authorization"))
            fault = knobs.draw_fault(request.method in _WRITES)
            if fault == "unavailable":
                raise server_unavailable()  # refused before any work: not counted
            usage.count_call(call_options_client(request.headers.get("sforce-call-options")))
            if fault == "unable_to_lock_row":
                if not _answers_per_record(request):
                    raise unable_to_lock_row()
                request.state.lock_fault = True
        except ApiError as error:
            return error_response(error)
        return await call_next(request)

    @app.middleware("http")
    async def api_gate(request: Request, call_next: CallNext) -> Response:
        path = request.url.path
        if not path.startswith("/services/"):
            return await call_next(request)
        if knobs.latency_seconds > 0:
            await asyncio.sleep(knobs.latency_seconds)
        if knobs.outage() is not None:
            # In "refuse" mode the port is closed; a call on a connection opened before the
            # outage began gets this answer too.
            response = error_response(server_unavailable())
        elif not path.startswith("/services/data") or path in _VERSIONS_PATHS:
            response = await call_next(request)
        else:
            response = await metered(request, call_next)
        if path.startswith("/services/data"):
            response.headers["Sforce-Limit-Info"] = usage.header()
        return response
