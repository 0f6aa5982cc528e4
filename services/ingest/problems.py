"""Errors as RFC 9457 problem details that name the field or header at fault."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, title: str, detail: str,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A ``application/problem+json`` answer."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def handle_problem(_: Request, exc: Exception) -> JSONResponse:
    """Turn a raised ``ProblemError`` into its answer."""
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)


def _field_path(location: tuple[int | str, ...]) -> str:
    # FastAPI prefixes body errors with "body"; the sender only knows its own field names.
    parts = [str(p) for p in location if p != "body"]
    return ".".join(parts) or "body"


def validation_problem(raw_errors: Sequence[Mapping[str, Any]]) -> ProblemError:
    """422 (or 400 for unreadable JSON) listing each field at fault, from pydantic errors."""
    errors = [
        {"field": _field_path(tuple(e["loc"])), "message": e["msg"], "type": e["type"]}
        for e in raw_errors
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return ProblemError(400, "Unreadable body", "the body is not valid JSON",
                            errors=errors)
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return ProblemError(422, "Invalid fields", f"invalid value for: {fields}", errors=errors)


async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation errors (query, path) answered like ours."""
    assert isinstance(exc, RequestValidationError)
    return await handle_problem(request, validation_problem(exc.errors()))


async def handle_broker_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Kafka did not acknowledge in time: nothing was accepted, the sender retries later."""
    settings = request.app.state.settings
    return problem_response(503, "Kafka unavailable", f"{exc}; nothing was accepted, retry",
                            headers={"Retry-After": str(settings.retry_after_seconds)})


async def handle_http_error(_: Request, exc: Exception) -> JSONResponse:
    """The framework's own errors (an unreadable body, a wrong method) as problem details."""
    assert isinstance(exc, StarletteHTTPException)
    title = {400: "Unreadable body", 404: "Not found", 405: "Method not allowed"}.get(
        exc.status_code, "Request refused")
    return problem_response(exc.status_code, title, str(exc.detail),
                            headers=dict(exc.headers or {}))
