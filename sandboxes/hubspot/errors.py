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


def too_many_inputs(limit: int) -> ApiError:
    """The 400 for a batch with more inputs than HubSpot takes in one call."""
    return ApiError(400, "VALIDATION_ERROR",
                    f"The maximum number of inputs supported in a batch is {limit}. "
                    "Please reduce the number of items and try again")


def non_unique_id_property(object_type_id: str, id_property: str, portal_id: int) -> ApiError:
    """The 400 for an update or upsert keyed by a property that is not unique."""
    return validation_error(
        f"Unable to perform update/upsert by non-unique {object_type_id} property "
        f"{id_property} in portal ID {portal_id}")


def invalid_associations(object_type: str, object_ids: list[str]) -> ApiError:
    """The 400 for associations that name records which do not exist."""
    return ApiError(400, "VALIDATION_ERROR", "One or more associations are invalid", context={
        "INVALID_OBJECT_IDS": [f"{object_type}={i} is not valid" for i in object_ids],
        "objectId": object_ids,
        "objectType": [object_type],
    })


def missing_objects(object_type: str, ids: list[str], verb: str = "get") -> dict[str, Any]:
    """One ``errors`` element of a 207 batch answer: some ids name no record."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not {verb} some {object_type} objects, they may be deleted or not "
                   "exist. Check that ids are valid.",
        "context": {"ids": ids},
    }


def rate_limit_body(policy_name: str) -> dict[str, Any]:
    """The 429 body: which limit was reached (``TEN_SECONDLY_ROLLING`` or ``DAILY``)."""
    window = "ten_secondly_rolling" if policy_name == "TEN_SECONDLY_ROLLING" else "daily"
    return {
        "status": "error",
        "message": f"You have reached your {window} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy_name,
        "requestId": uuid.uuid4().hex,
    }


def unavailable(status: int) -> ApiError:
    """An injected server-side failure (502 or 503) in HubSpot's error shape."""
    message = ("Service Unavailable: please retry later" if status == 503
               else "Bad Gateway: the request could not be completed, please retry")
    return ApiError(status, "INTERNAL_ERROR", message)
