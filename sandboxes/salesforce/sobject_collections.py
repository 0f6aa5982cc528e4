"""sObject Collections upsert: ``PATCH /services/data/vXX.X/composite/sobjects/{SObject}/
{ExternalIdField}`` with ``{"allOrNone": bool, "records": [...]}`` (API v46.0 and later).

Up to 200 records of the URL's type, each with ``attributes.type``, upserted in order by the
External ID field. A well-formed request answers 200 with one UpsertResult per record
(``id``, ``success``, ``errors``, ``created``); a failed record carries errors with
``statusCode``, ``message`` and ``fields``. With ``allOrNone`` one failure rolls back all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandboxes.salesforce.api_gate import lock_fault_drawn
from sandboxes.salesforce.data_routes import BASE, api_version, json_body
from sandboxes.salesforce.errors import (
    ApiError,
    json_parser_error,
    not_found,
    unable_to_lock_row,
)
from sandboxes.salesforce.field_values import json_token
from sandboxes.salesforce.metadata import SObjectDef
from sandboxes.salesforce.records import Records, sobject_or_404

MAX_RECORDS = 200
COLLECTIONS_SINCE = 46.0
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
               "using AllOrNone header",
    "fields": [],
}
_KEYS = frozenset({"allOrNone", "records"})


class _RollBack(Exception):
    """Leaves the transaction without committing, carrying the answer."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        super().__init__("allOrNone: a record failed")
        self.results = results


def failure(*errors: Mapping[str, Any]) -> dict[str, Any]:
    """The UpsertResult of a record that was not saved."""
    return {"success": False, "errors": list(errors)}


def record_error(error: ApiError) -> dict[str, Any]:
    """An ApiError as an entry of a result's ``errors``."""
    return {"statusCode": error.error_code, "message": error.message,
            "fields": list(error.fields or [])}


def _request(body: Mapping[str, Any]) -> tuple[bool, list[Any]]:
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise json_parser_error(f'Unrecognized field "{unknown[0]}" [line:1, column:2]')
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise json_parser_error(f"Cannot deserialize instance of boolean from "
                                f"{json_token(all_or_none)} value [line:1, column:15]")
    items = body.get("records")
    if not isinstance(items, list):
        raise json_parser_error(f"Cannot deserialize instance of List from "
                                f"{json_token(items)} value: records must be a list")
    if len(items) > MAX_RECORDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT",
                       "record limit reached. cannot submit more than 200 records into this "
                       "call")
    return all_or_none, items


def _checked_items(target: SObjectDef, items: list[Any]) -> list[dict[str, Any]]:
    checked = []
    for item in items:
        if not isinstance(item, dict):
            raise json_parser_error(f"Cannot deserialize instance of {target.name} from "
                                    f"{json_token(item)} value")
        attributes = item.get("attributes")
        kind = attributes.get("type") if isinstance(attributes, dict) else None
        if not kind:
            raise ApiError(400, "INVALID_TYPE",
                           "Each record in an sObject Collections request needs attributes "
                           "with a type", [])
        if str(kind).lower() != target.name.lower():
            raise ApiError(400, "INVALID_TYPE",
                           f"Record type {kind} does not match the sObject {target.name} "
                           "of the request URI", [])
        checked.append({k: v for k, v in item.items() if k != "attributes"})
    return checked


def _key(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def upsert_collection(records: Records, target: SObjectDef, field_name: str,
                      body: Mapping[str, Any], lock_fault: bool = False) -> list[dict[str, Any]]:
    """The UpsertResults of upserting ``body["records"]`` by ``field_name``."""
    all_or_none, items = _request(body)
    field = records.external_id_field(target, field_name)
    rows = _checked_items(target, items)
    keys = [_key(next((v for k, v in row.items() if k.lower() == field.lower()), None))
            for row in rows]
    repeated = Counter(k.casefold() for k in keys if k is not None)
    store = records.store
    try:
        with store.transaction():
            results = [_one(records, target, field, row, key, repeated, lock_fault)
                       for row, key in zip(rows, keys, strict=True)]
            if all_or_none and not all(r["success"] for r in results):
                raise _RollBack(results)
    except _RollBack as rolled_back:
        return [r if not r["success"] else failure(ROLLED_BACK) for r in rolled_back.results]
    return results


def _one(records: Records, target: SObjectDef, field: str, row: dict[str, Any],
         key: str | None, repeated: Counter[str], lock_fault: bool) -> dict[str, Any]:
    if key is None:
        return failure(record_error(ApiError(400, "MISSING_ARGUMENT", f"{field} not specified",
                                             [])))
    if repeated[key.casefold()] > 1:
        return failure(record_error(ApiError(
            400, "DUPLICATE_VALUE", f"Duplicate external id specified: {key}", [field])))
    if lock_fault:
        return failure(record_error(unable_to_lock_row()))
    try:
        with records.store.savepoint():
            record_id, created = records.upsert_in_transaction(target, field, key, row)
    except ApiError as error:
        return failure(record_error(error))
    return {"id": record_id, "success": True, "errors": [], "created": created}


def add_collection_routes(app: FastAPI, records: Records) -> None:
    """Add the sObject Collections upsert resource to ``app``."""

    @app.patch(BASE + "/composite/sobjects/{sobject}/{field}")
    async def upsert(version: str, sobject: str, field: str, request: Request) -> JSONResponse:
        if float(api_version(version)) < COLLECTIONS_SINCE:
            raise not_found()
        target = sobject_or_404(sobject)
        body = await json_body(request, target)
        return JSONResponse(upsert_collection(records, target, field, body,
                                              lock_fault_drawn(request)))
