"""Routes under ``/services/data/vXX.X/``: describe, sObject rows, upsert and SOQL queries."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandboxes.salesforce import describe
from sandboxes.salesforce.auth import ApiUsage
from sandboxes.salesforce.errors import ApiError, json_parser_error, not_found
from sandboxes.salesforce.field_values import json_token
from sandboxes.salesforce.metadata import SObjectDef
from sandboxes.salesforce.records import Records, sobject_or_404
from sandboxes.salesforce.soql_eval import project

MAX_BODY_BYTES = 10 * 1024 * 1024
# From this version on, an upsert that updates answers 200 with a body instead of 204.
UPSERT_BODY_SINCE = 46.0
_VERSION = re.compile(r"^v(\d{2,3}\.\d)$")
BASE = "/services/data/{version}"


def api_version(segment: str) -> str:
    """``62.0`` for the path segment ``v62.0`` (``latest``: the newest); else NOT_FOUND."""
    if segment == "latest":
        return f"{describe.NEWEST_VERSION}.0"
    match = _VERSION.match(segment)
    if match is None:
        raise not_found()
    return match.group(1)


def with_attributes(target: SObjectDef, version: str, record_id: str,
                    fields: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the API returns it: ``attributes`` (type and URL) first, then fields."""
    url = f"/services/data/v{version}/sobjects/{target.name}/{record_id}"
    return {"attributes": {"type": target.name, "url": url}, **fields}


async def json_body(request: Request, target: SObjectDef) -> dict[str, Any]:
    """The request body as a JSON object, read up to MAX_BODY_BYTES; JSON_PARSER_ERROR if not."""
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, "REQUEST_ENTITY_TOO_LARGE",
                           f"The request body exceeds {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise json_parser_error("No content to map due to end-of-input at [line:1, column:0]")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise json_parser_error("Invalid UTF-8 in the request body") from None
    except json.JSONDecodeError as error:
        char = error.doc[error.pos] if error.pos < len(error.doc) else "<EOF>"
        raise json_parser_error(
            f"Unexpected character ('{char}' (code {ord(char[0])})): expected a valid value "
            "(number, String, array, object, 'true', 'false' or 'null') at "
            f"[line:{error.lineno}, column:{error.colno}]") from None
    if not isinstance(body, dict):
        raise json_parser_error(f"Cannot deserialize instance of {target.name} from "
                                f"{json_token(body)} value [line:1, column:1]")
    return body


def add_data_routes(app: FastAPI, records: Records, usage: ApiUsage) -> None:
    """Add the authenticated REST resources to ``app``, answering as the integration user."""
    # Routes go on the app itself, not an included router, so the 405 answer can list
    # every method served at a path.
    @app.get(BASE)
    @app.get(BASE + "/")
    async def resources(version: str) -> dict[str, str]:
        return describe.resources(api_version(version))

    @app.get(BASE + "/limits")
    @app.get(BASE + "/limits/")
    async def limits(version: str) -> dict[str, Any]:
        api_version(version)
        return {"DailyApiRequests": {"Max": usage.limit, "Remaining": usage.limit - usage.used()}}

    @app.get(BASE + "/sobjects")
    @app.get(BASE + "/sobjects/")
    async def describe_global(version: str) -> dict[str, Any]:
        return describe.describe_global(api_version(version))

    @app.get(BASE + "/sobjects/{sobject}")
    @app.get(BASE + "/sobjects/{sobject}/")
    async def sobject_info(version: str, sobject: str) -> dict[str, Any]:
        target = sobject_or_404(sobject)
        summary = describe.sobject_summary(target, api_version(version))
        return {"objectDescribe": summary, "recentItems": []}

    @app.get(BASE + "/sobjects/{sobject}/describe")
    @app.get(BASE + "/sobjects/{sobject}/describe/")
    async def describe_sobject(version: str, sobject: str) -> dict[str, Any]:
        return describe.describe_sobject(sobject_or_404(sobject), api_version(version))

    @app.post(BASE + "/sobjects/{sobject}")
    @app.post(BASE + "/sobjects/{sobject}/")
    async def create(version: str, sobject: str, request: Request) -> JSONResponse:
        api_version(version)
        target = sobject_or_404(sobject)
        record_id = records.create(target, await json_body(request, target))
        return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)

    @app.get(BASE + "/sobjects/{sobject}/{record_id}")
    async def get(version: str, sobject: str, record_id: str,
                  fields: str | None = None) -> dict[str, Any]:
        number = api_version(version)
        target = sobject_or_404(sobject)
        return _answer(target, number, records.get(target, record_id), fields)

    @app.patch(BASE + "/sobjects/{sobject}/{record_id}")
    async def update(version: str, sobject: str, record_id: str, request: Request) -> Response:
        api_version(version)
        target = sobject_or_404(sobject)
        records.update(target, record_id, await json_body(request, target))
        return Response(status_code=204)

    @app.delete(BASE + "/sobjects/{sobject}/{record_id}")
    async def delete(version: str, sobject: str, record_id: str) -> Response:
        api_version(version)
        records.delete(sobject_or_404(sobject), record_id)
        return Response(status_code=204)

    @app.get(BASE + "/sobjects/{sobject}/{field}/{value}")
    async def get_by_external_id(version: str, sobject: str, field: str, value: str,
                                 fields: str | None = None) -> dict[str, Any]:
        number = api_version(version)
        target = sobject_or_404(sobject)
        return _answer(target, number, records.get_by_external_id(target, field, value), fields)

    @app.patch(BASE + "/sobjects/{sobject}/{field}/{value}")
    async def upsert(version: str, sobject: str, field: str, value: str,
                     request: Request) -> Response:
        number = api_version(version)
        target = sobject_or_404(sobject)
        record_id, created = records.upsert(target, field, value,
                                            await json_body(request, target))
        if not created and float(number) < UPSERT_BODY_SINCE:
            return Response(status_code=204)
        body = {"id": record_id, "success": True, "errors": [], "created": created}
        return JSONResponse(body, status_code=201 if created else 200)

    @app.delete(BASE + "/sobjects/{sobject}/{field}/{value}")
    async def delete_by_external_id(version: str, sobject: str, field: str,
                                    value: str) -> Response:
        api_version(version)
        records.delete_by_external_id(sobject_or_404(sobject), field, value)
        return Response(status_code=204)

    @app.get(BASE + "/query")
    @app.get(BASE + "/query/")
    async def query(version: str, q: str | None = None) -> dict[str, Any]:
        return _query(api_version(version), q, include_deleted=False)

    @app.get(BASE + "/queryAll")
    @app.get(BASE + "/queryAll/")
    async def query_all(version: str, q: str | None = None) -> dict[str, Any]:
        return _query(api_version(version), q, include_deleted=True)

    def _query(version: str, soql: str | None, include_deleted: bool) -> dict[str, Any]:
        if not soql:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        bound, total, matching = records.query(soql, include_deleted)
        rows = [with_attributes(bound.sobject, version, r["Id"], project(bound, r))
                for r in matching]
        return {"totalSize": total, "done": True, "records": rows}


def _answer(target: SObjectDef, version: str, record: dict[str, Any],
            fields: str | None) -> dict[str, Any]:
    """The record with attributes; only the ``fields`` listed (comma-separated) if given."""
    shown = record
    if fields:
        shown = {}
        for name in (n.strip() for n in fields.split(",") if n.strip()):
            field = target.field(name)
            if field is None:
                raise ApiError(400, "INVALID_FIELD",
                               f"No such column '{name}' on entity '{target.name}'")
            shown[field.name] = record.get(field.name)
    return with_attributes(target, version, record["Id"], shown)
