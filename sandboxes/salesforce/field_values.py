"""Checks the field values of a create or update body the way Salesforce's REST API does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sandboxes.salesforce import ids
from sandboxes.salesforce.errors import ApiError, json_parser_error
from sandboxes.salesforce.metadata import NUMBER_TYPES, FieldDef, SObjectDef, sobject

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_JSON_TYPE_NAMES = {"int": "int", "double": "double", "currency": "double",
                    "percent": "double", "boolean": "boolean"}


def checked_values(target: SObjectDef, body: Mapping[str, Any],
                   creating: bool) -> dict[str, Any]:
    """The body's values under their API names, coerced to the field types.

    Raises :class:`ApiError` with Salesforce's errorCode: INVALID_FIELD for an unknown
    field, INVALID_FIELD_FOR_INSERT_UPDATE for a read-only one, and the value errors of
    :func:`checked_value`. On create, applies defaults and then REQUIRED_FIELD_MISSING.
    """
    values: dict[str, Any] = {}
    read_only: list[str] = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        field = target.field(key)
        if field is None:
            raise ApiError(400, "INVALID_FIELD",
                           f"No such column '{key}' on sobject of type {target.name}", [])
        if not (field.createable if creating else field.updateable):
            read_only.append(field.name)
            continue
        values[field.name] = raw
    if read_only:
        action = "create" if creating else "update"
        raise ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                       f"Unable to {action} fields: {', '.join(read_only)}. Please check the "
                       "security settings of this field and verify that it is read/write for "
                       "your profile or permission set.", read_only)
    checked = {name: checked_value(target, _field(target, name), raw)
               for name, raw in values.items()}
    if creating:
        for field in target.fields:
            if field.name not in checked and field.default is not None and field.createable:
                checked[field.name] = field.default
        missing = [f.name for f in target.fields
                   if f.required and f.createable and checked.get(f.name) is None]
        if missing:
            raise required_missing(missing)
    return checked


def required_missing(names: list[str]) -> ApiError:
    """REQUIRED_FIELD_MISSING naming ``names``."""
    return ApiError(400, "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(names)}]", names)


def checked_value(target: SObjectDef, field: FieldDef, raw: Any) -> Any:
    """One value coerced to ``field``'s type; an empty string is null, as in Salesforce."""
    if raw is None or raw == "":
        if field.required:
            raise required_missing([field.name])
        return None
    if field.type == "boolean":
        return _boolean(field, raw)
    if field.type in NUMBER_TYPES:
        return _number(field, raw)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _cannot_deserialize("String", raw)
    text = str(raw)
    if field.type == "date":
        return _date(text)
    if field.type == "reference":
        return _reference(field, text)
    if field.length and len(text) > field.length:
        raise ApiError(400, "STRING_TOO_LONG", f"{field.label}: data value too large: {text} "
                       f"(max length={field.length})", [field.name])
    if field.type == "email" and not _EMAIL.match(text):
        raise ApiError(400, "INVALID_EMAIL_ADDRESS",
                       f"{field.label}: invalid email address: {text}", [field.name])
    if field.restricted_picklist and text not in field.picklist:
        raise ApiError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                       f"{field.label}: bad value for restricted picklist field: {text}",
                       [field.name])
    return text


def _field(target: SObjectDef, name: str) -> FieldDef:
    field = target.field(name)
    assert field is not None
    return field


def _boolean(field: FieldDef, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise _cannot_deserialize("boolean", raw)


def _number(field: FieldDef, raw: Any) -> int | float:
    value: float
    if isinstance(raw, bool):
        raise _cannot_deserialize(_JSON_TYPE_NAMES[field.type], raw)
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        try:
            value = float(str(raw))
        except ValueError:
            raise _cannot_deserialize(_JSON_TYPE_NAMES[field.type], raw) from None
    if field.type == "int":
        if not value.is_integer():
            raise _cannot_deserialize("int", raw)
        return int(value)
    return value


def _date(text: str) -> str:
    """A date as Salesforce reads it from JSON: ``YYYY-MM-DD``."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise json_parser_error(f"Cannot deserialize value of type `java.util.Date` from String "
                            f"\"{text}\": expected format \"yyyy-MM-dd\"")


def _reference(field: FieldDef, text: str) -> str:
    if not ids.is_well_formed(text):
        raise ApiError(400, "MALFORMED_ID",
                       f"{field.label}: id value of incorrect type: {text}", [field.name])
    referenced = sobject(field.reference_to or "")
    if referenced is not None and text[:3] != referenced.key_prefix:
        raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION",
                       f"{field.label}: id value of incorrect type: {text}", [field.name])
    return ids.to_18(text)


def _cannot_deserialize(type_name: str, raw: Any) -> ApiError:
    return json_parser_error(f"Cannot deserialize instance of {type_name} from {json_token(raw)} "
                             f"value {raw} or request may be missing a required field")


def json_token(raw: Any) -> str:
    """The name Salesforce's JSON reader gives the token that held ``raw``."""
    if isinstance(raw, dict):
        return "START_OBJECT"
    if isinstance(raw, list):
        return "START_ARRAY"
    if isinstance(raw, bool):
        return "VALUE_TRUE" if raw else "VALUE_FALSE"
    if isinstance(raw, int):
        return "VALUE_NUMBER_INT"
    if isinstance(raw, float):
        return "VALUE_NUMBER_FLOAT"
    return "VALUE_STRING"
