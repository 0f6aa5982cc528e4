"""JSON routes refuse other content types with 415 (FastAPI would try to parse anyway)."""

from __future__ import annotations

from fastapi import Request

from services.ingest.problems import ProblemError


async def require_json(request: Request) -> None:
    """FastAPI dependency: the body must be declared as JSON."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ProblemError(415, "Unsupported media type",
                           f"send the body as application/json, not {media or 'nothing'}",
                           header="Content-Type")
