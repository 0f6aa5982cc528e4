"""What stands in front of every CRM API call: outage, token, rate limits, latency, faults.

In order: during an outage every ``/crm/`` call is answered 503; a missing or wrong bearer
token gets 401 (and counts against nothing); a call beyond the 10-second rolling window or
the daily cap gets HubSpot's 429 and is not counted; then the configured latency is waited
out, and a share of calls (the error rate) fails with 502 or 503. Every answer of a counted
call carries the ``X-HubSpot-RateLimit-*`` headers.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.hubspot.errors import (
    ApiError,
    invalid_authentication,
    rate_limit_body,
    unavailable,
)
from sandboxes.hubspot.knobs import Knobs
from sandboxes.hubspot.rate_limits import usage_headers, utc_day
from sandboxes.hubspot.store import ContactStore

Handler = Callable[[Request], Awaitable[Response]]


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    """An API error as HubSpot answers it."""
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _authorised(request: Request, token: str) -> bool:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        presented.strip().encode(), token.encode())


def install_crm_guard(app: FastAPI, token: str, store: ContactStore, knobs: Knobs) -> None:
    """Add the guard to ``app`` as HTTP middleware for paths under ``/crm/``."""

    @app.middleware("http")
    async def guard_crm(request: Request, call_next: Handler) -> Response:
        if not request.url.path.startswith("/crm/"):
            return await call_next(request)
        # No Retry-After: urllib3 (under hubspot-api-client) would sleep it out and retry
        # silently, and HubSpot's own 5xx answers carry none either.
        if knobs.outage_left() > 0:
            return error_response(unavailable(503))
        if not _authorised(request, token):
            return error_response(invalid_authentication())
        now = time.time()
        admission = store.admit_call(now, utc_day(now), knobs.ten_second_limit,
                                     knobs.daily_limit)
        headers = usage_headers(admission.usage, knobs.daily_limit, knobs.ten_second_limit)
        if admission.refused_by is not None:
            return JSONResponse(rate_limit_body(admission.refused_by), status_code=429,
                                headers=headers)
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        failure = knobs.injected_failure()
        if failure is not None:
            return error_response(unavailable(failure))
        response = await call_next(request)
        response.headers.update(headers)
        return response
