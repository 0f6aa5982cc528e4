"""Shared pieces of the sandbox's route modules: query parameters and answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse

Names = Annotated[list[str] | None, Query(alias="properties")]
IdProperty = Annotated[str | None, Query(alias="idProperty")]
Associations = Annotated[list[str] | None, Query(alias="associations")]


def base_url(request: Request) -> str:
    """The URL the caller reached the sandbox at, for ``paging.next.link``."""
    return str(request.base_url).rstrip("/")


def answer(status_and_body: tuple[int, dict[str, Any]]) -> JSONResponse:
    """A JSON answer with the status a batch operation chose (200, 201 or 207)."""
    status, body = status_and_body
    return JSONResponse(body, status_code=status)
