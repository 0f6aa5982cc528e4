"""REST API errors in Salesforce's shape: a status code and a JSON list of error objects."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the REST API answers with ``status`` and ``[{"message", "errorCode", ...}]``."""

    def __init__(self, status: int, error_code: str, message: str,
                 fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        # None leaves "fields" out of the body, as Salesforce does for NOT_FOUND and the like.
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        """The JSON body Salesforce sends for this error."""
        error: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            error["fields"] = self.fields
        return [error]


def not_found() -> ApiError:
    """The answer for an unknown resource, sObject type or record id."""
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def bad_external_id_field(name: str) -> ApiError:
    """The answer when a path names a field that is not an External ID of the object."""
    return ApiError(404, "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {name}")


def entity_deleted() -> ApiError:
    """The answer for a record that is in the recycle bin."""
    return ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])


def invalid_session() -> ApiError:
    """The answer for a missing, unknown or expired access token."""
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def json_parser_error(detail: str) -> ApiError:
    """The answer for a body that is not the JSON object the resource expects."""
    return ApiError(400, "JSON_PARSER_ERROR", detail)


def server_unavailable() -> ApiError:
    """The answer while the org is down for maintenance or overloaded."""
    return ApiError(503, "SERVER_UNAVAILABLE",
                    "Server is temporarily unavailable, please try again later.")


def unable_to_lock_row() -> ApiError:
    """The answer when a record stayed locked by another transaction for too long."""
    return ApiError(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record",
                    [])


class OAuthError(Exception):
    """A token request refused with ``{"error", "error_description"}`` and HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON body Salesforce sends for this refusal."""
        return {"error": self.error, "error_description": self.description}
