"""JSON answers that describe the API itself: versions, resources and sObject metadata."""

from __future__ import annotations

from typing import Any

from sandboxes.salesforce.metadata import SOBJECTS, FieldDef, SObjectDef

OLDEST_LISTED_VERSION = 59
NEWEST_VERSION = 68
_SEASONS = ("Winter", "Spring", "Summer")


def versions() -> list[dict[str, str]]:
    """The API versions the org lists, oldest first (Winter '24 is v59.0)."""
    listed = []
    for number in range(OLDEST_LISTED_VERSION, NEWEST_VERSION + 1):
        step = number - OLDEST_LISTED_VERSION
        label = f"{_SEASONS[step % 3]} '{24 + step // 3}"
        listed.append({"label": label, "url": f"/services/data/v{number}.0",
                       "version": f"{number}.0"})
    return listed


def resources(version: str) -> dict[str, str]:
    """The resources available under ``/services/data/vXX.X/``."""
    base = f"/services/data/v{version}"
    return {name: f"{base}/{name}"
            for name in ("composite", "limits", "query", "queryAll", "sobjects")}


def _urls(target: SObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{target.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def sobject_summary(target: SObjectDef, version: str) -> dict[str, Any]:
    """An sObject as the describeGlobal resource lists it."""
    return {
        "name": target.name, "label": target.label, "labelPlural": target.label_plural,
        "keyPrefix": target.key_prefix, "custom": False, "queryable": True,
        "createable": target.writable, "updateable": target.writable,
        "deletable": target.writable, "urls": _urls(target, version),
    }


def describe_global(version: str) -> dict[str, Any]:
    """The answer of ``GET /services/data/vXX.X/sobjects``."""
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [sobject_summary(s, version) for s in SOBJECTS]}


def describe_sobject(target: SObjectDef, version: str) -> dict[str, Any]:
    """The answer of ``GET /services/data/vXX.X/sobjects/{sObject}/describe``."""
    return sobject_summary(target, version) | {
        "fields": [_describe_field(f) for f in target.fields],
    }


def _describe_field(field: FieldDef) -> dict[str, Any]:
    relationship = None
    if field.type == "reference" and field.name.endswith("Id"):
        relationship = field.name[:-2]
    return {
        "name": field.name, "label": field.label, "type": field.type, "length": field.length,
        "nillable": not field.required and field.type not in ("boolean", "id"),
        "createable": field.createable, "updateable": field.updateable,
        "defaultedOnCreate": field.default is not None or not field.createable,
        "defaultValue": field.default if field.type in ("picklist", "boolean") else None,
        "externalId": field.external_id, "unique": field.unique, "caseSensitive": False,
        "idLookup": field.name == "Id" or field.external_id,
        "filterable": True, "sortable": True, "custom": field.name.endswith("__c"),
        "picklistValues": [
            {"active": True, "defaultValue": value == field.default, "label": value,
             "validFor": None, "value": value}
            for value in field.picklist
        ],
        "restrictedPicklist": field.restricted_picklist,
        "referenceTo": [field.reference_to] if field.reference_to else [],
        "relationshipName": relationship,
    }
