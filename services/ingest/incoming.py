"""Reading a JSON request on the hot path: authenticate, check the media type, validate.

Routes take the raw ``Request`` and call ``read_json``: pydantic-core parses and validates
the body in one pass, and no per-request parameter machinery runs (it cost more than
everything else together). ``json_route_docs`` documents the same headers and body in the
OpenAPI document, so what the document says and what the route does stay one contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from services.ingest.api_key import API_KEY_HEADER
from services.ingest.idempotency import IDEMPOTENCY_HEADER
from services.ingest.openapi_docs import inline_schema
from services.ingest.problems import ProblemError, validation_problem
from services.ingest.sender_auth import SIGNATURE_HEADER, Sender, authenticate

T = TypeVar("T")

_HEADERS: list[dict[str, Any]] = [
    {"name": API_KEY_HEADER, "in": "header", "required": False,
     "description": "Your API key (or sign the request with Standard Webhooks instead)",
     "schema": {"type": "string"}},
    {"name": "webhook-id", "in": "header", "required": False,
     "description": "Standard Webhooks message id; also the idempotency key",
     "schema": {"type": "string"}},
    {"name": "webhook-timestamp", "in": "header", "required": False,
     "description": "Standard Webhooks timestamp (seconds since the epoch)",
     "schema": {"type": "string"}},
    {"name": SIGNATURE_HEADER, "in": "header", "required": False,
     "description": "Standard Webhooks signatures, e.g. `v1,<base64>`",
     "schema": {"type": "string"}},
    {"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
     "description": "A retry with the same key gets the first answer; nothing new is sent",
     "schema": {"type": "string", "maxLength": 255}},
]


def json_route_docs(body_schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a JSON route: its headers and its request body."""
    return {"parameters": _HEADERS, "requestBody": {"required": True, "content": {
        "application/json": {"schema": inline_schema(body_schema)}}}}


@dataclass(frozen=True)
class Incoming(Generic[T]):
    """An authenticated, validated request."""

    sender: Sender
    idempotency_key: str | None
    body: T


async def read_json(request: Request, adapter: TypeAdapter[T]) -> Incoming[T]:
    """Authenticate (401), require JSON (415), then parse and validate (400/422)."""
    headers = request.headers
    raw = await request.body()
    sender = authenticate(headers, raw, request.app.state.settings)
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ProblemError(415, "Unsupported media type",
                           f"send the body as application/json, not {media or 'nothing'}",
                           header="Content-Type")
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 0 < len(key) <= 255:
        raise ProblemError(400, "Invalid idempotency key", "keys are 1 to 255 characters",
                           header=IDEMPOTENCY_HEADER)
    try:
        body = adapter.validate_json(raw)
    except ValidationError as exc:
        raise validation_problem(exc.errors()) from exc
    return Incoming(sender, key, body)
