"""CRM v3 API errors in HubSpot's shape: ``{"status":"error","message",...,"category"}``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@dataclass(frozen=True)
class PropertyProblem:
    """Why one property value was refused, as HubSpot's property validation reports it."""

    name: str
    error: str
    message: str


class ApiError(Exception):
    """An error the API answers with ``status`` and a HubSpot error body."""

    def __init__(self, status: int, category: str, message: str, *,
                 errors: list[dict[str, Any]] | None = None,
                 context: dict[str, list[str]] | None = None) -> None:
        super().__init__(f"{category}: {message}")
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = context

    def body(self) -> dict[str, Any]:
        """The JSON body HubSpot sends for this error, with a fresh correlation id."""
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        if self.context is not None:
            body["context"] = self.context
        body["category"] = self.category
        return body


def invalid_authentication() -> ApiError:
    """The answer for a missing or unknown bearer token."""
    return ApiError(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)


def validation_error(message: str, context: dict[str, list[str]] | None = None) -> ApiError:
    """A 400 for a request that is malformed or breaks a documented limit."""
    return ApiError(400, "VALIDATION_ERROR", message, context=context)


def invalid_properties(problems: Sequence[PropertyProblem], portal_id: int) -> ApiError:
    """The 400 for refused property values: a JSON list in ``message``, details in ``errors``."""
    # HubSpot embeds its internal validation results, serialised, in the message text.
    results = [
        {
            "isValid": False,
            "message": problem.message,
            "error": problem.error,
            "name": problem.name,
            "localizedErrorMessage": problem.message,
            "portalId": portal_id,
        }
        for problem in problems
    ]
    message = "Property values were not valid: " + json.dumps(results, separators=(",", ":"))
    errors = [
        {"message": problem.message, "code": problem.error,
         "context": {"propertyName": [problem.name]}}
        for problem in problems
    ]
    return ApiError(400, "VALIDATION_ERROR", message, errors=errors)


def object_not_found(object_id: str | None = None) -> ApiError:
    """The 404 for a record or resource that does not exist."""
    if object_id is not None and not object_id.isdigit():
        return ApiError(404, "OBJECT_NOT_FOUND",
                        "Object not found.  objectId are usually numeric.",
                        context={"id": [object_id]})
    return ApiError(404, "OBJECT_NOT_FOUND", "resource not found")


def contact_conflict(existing_id: int) -> ApiError:
    """The 409 for a create or an email change that collides with another contact's email."""
    return ApiError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing_id}")
