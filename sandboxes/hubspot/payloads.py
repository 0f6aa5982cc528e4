"""Request bodies the sandbox accepts, parsed and bounded before any handler sees them."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from sandboxes.hubspot.errors import ApiError, validation_error

# HubSpot takes JSON numbers and booleans for property values and stores their text.
PropertyValue = str | int | float | bool | None
MAX_BODY_BYTES = 4 * 1024 * 1024

_Body = TypeVar("_Body", bound=BaseModel)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ObjectId(_Payload):
    """``{"id": ...}``: a record named by its id (sent as a string or a number)."""

    id: str | int

    @property
    def text(self) -> str:
        """The id as text."""
        return str(self.id)


class AssociationType(_Payload):
    """Which kind of association: HubSpot-defined type 3 is deal to contact."""

    association_category: str = Field(default="HUBSPOT_DEFINED", alias="associationCategory")
    association_type_id: int = Field(alias="associationTypeId")


class AssociationInput(_Payload):
    """One association in a create body: the record to associate with, and how."""

    to: ObjectId
    types: list[AssociationType] = Field(default_factory=list)


class ObjectInput(_Payload):
    """``{"properties": {...}}`` for creating or updating one object (with associations)."""

    properties: dict[str, PropertyValue]
    associations: list[AssociationInput] = Field(default_factory=list)
    object_write_trace_id: str | None = Field(default=None, alias="objectWriteTraceId")


class BatchCreateInput(_Payload):
    """``{"inputs": [...]}`` for ``batch/create``."""

    inputs: list[ObjectInput]


class BatchReadInput(_Payload):
    """The body of ``batch/read``: ids (or unique values of ``idProperty``) and properties."""

    inputs: list[ObjectId]
    properties: list[str] = Field(default_factory=list)
    properties_with_history: list[str] = Field(default_factory=list,
                                               alias="propertiesWithHistory")
    id_property: str | None = Field(default=None, alias="idProperty")


class AssociationPair(_Payload):
    """One input of a v4 batch association: ``{"from": {"id"}, "to": {"id"}}``."""

    from_: ObjectId = Field(alias="from")
    to: ObjectId


class BatchAssociationInput(_Payload):
    """``{"inputs": [...]}`` for ``/crm/v4/associations/.../batch/associate/default``."""

    inputs: list[AssociationPair]


class UpsertInput(_Payload):
    """One input of a batch upsert: which record (by ``idProperty``) and its new values."""

    id: str
    id_property: str | None = Field(default=None, alias="idProperty")
    properties: dict[str, PropertyValue]
    object_write_trace_id: str | None = Field(default=None, alias="objectWriteTraceId")


class BatchUpsertInput(_Payload):
    """``{"inputs": [...]}`` for ``batch/upsert`` and ``batch/update``."""

    inputs: list[UpsertInput]


class FilterInput(_Payload):
    """One search filter as sent."""

    property_name: str = Field(alias="propertyName")
    operator: str
    value: PropertyValue = None
    values: list[PropertyValue] = Field(default_factory=list)
    high_value: PropertyValue = Field(default=None, alias="highValue")


class FilterGroupInput(_Payload):
    """Filters that must all match."""

    filters: list[FilterInput] = Field(default_factory=list)


class SearchInput(_Payload):
    """The body of ``POST /crm/v3/objects/contacts/search``."""

    filter_groups: list[FilterGroupInput] = Field(default_factory=list, alias="filterGroups")
    properties: list[str] = Field(default_factory=list)
    limit: int = 10
    after: str | None = None
    sorts: list[str | dict[str, str]] = Field(default_factory=list)
    query: str | None = None


def as_text(value: PropertyValue) -> str:
    """A property value as the string HubSpot stores; null clears, like an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def texts(values: dict[str, PropertyValue]) -> dict[str, str]:
    """Every property value as text."""
    return {name: as_text(value) for name, value in values.items()}


async def read_body(request: Request, model: type[_Body]) -> _Body:
    """Read at most MAX_BODY_BYTES of JSON and parse it as ``model``, or raise a 400/413."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    # Counting while streaming also bounds chunked bodies, which carry no Content-Length.
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    try:
        document = json.loads(b"".join(chunks) or b"null")
    except ValueError as error:
        raise validation_error(f"Invalid input JSON: {error}") from error
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}"
            for issue in error.errors())
        raise validation_error(f"Invalid input JSON: {problems}") from error


def _too_large() -> ApiError:
    return ApiError(413, "VALIDATION_ERROR",
                    f"Request body is larger than {MAX_BODY_BYTES} bytes")
