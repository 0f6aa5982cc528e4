"""HTTP routes of the HubSpot sandbox: thin handlers over the contact service and registries."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandboxes.hubspot.contacts import ContactService, requested_names
from sandboxes.hubspot.errors import (
    ApiError,
    invalid_authentication,
    object_not_found,
    validation_error,
)
from sandboxes.hubspot.owners import find_owner, load_owners, owners_page
from sandboxes.hubspot.payloads import (
    BatchUpsertInput,
    ObjectInput,
    SearchInput,
    read_body,
    texts,
)
from sandboxes.hubspot.properties import (
    CONTACT_OBJECT_TYPES,
    CONTACT_PROPERTIES,
    CONTACT_PROPERTY_MAP,
    to_wire,
)
from sandboxes.hubspot.rate_limits import usage_headers, utc_day
from sandboxes.hubspot.settings import HubSpotSandboxSettings
from sandboxes.hubspot.store import ContactStore

Names = Annotated[list[str] | None, Query(alias="properties")]
IdProperty = Annotated[str | None, Query(alias="idProperty")]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def _check_object_type(object_type: str) -> None:
    if object_type.lower() not in CONTACT_OBJECT_TYPES:
        raise validation_error(f"Unable to infer object type from: {object_type}")


def create_app(settings: HubSpotSandboxSettings) -> FastAPI:
    """The sandbox application, with its state in ``settings.database_path``."""
    store = ContactStore(settings.database_path)
    owners = load_owners(settings.owners_file)
    contacts = ContactService(store, owners, settings.portal_id)
    token = settings.access_token.get_secret_value()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="HubSpot sandbox", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.middleware("http")
    async def guard_crm(request: Request,
                        call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not request.url.path.startswith("/crm/"):
            return await call_next(request)
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
                presented.strip().encode(), token.encode()):
            # An unauthenticated call belongs to no app, so it counts against no limit.
            return _error_response(invalid_authentication())
        now = time.time()
        usage = store.record_call(now, utc_day(now))
        response = await call_next(request)
        response.headers.update(
            usage_headers(usage, settings.daily_limit, settings.ten_second_limit))
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc'])}: {issue['msg']}" for issue in error.errors())
        return _error_response(validation_error(f"Invalid request parameters: {problems}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            return _error_response(object_not_found())
        return _error_response(ApiError(error.status_code, "VALIDATION_ERROR", str(error.detail)))

    @app.get("/__sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/crm/v3/properties/{object_type}")
    async def list_properties(object_type: str) -> dict[str, Any]:
        _check_object_type(object_type)
        return {"results": [to_wire(p, owners) for p in CONTACT_PROPERTIES]}

    @app.get("/crm/v3/properties/{object_type}/{property_name}")
    async def get_property(object_type: str, property_name: str) -> dict[str, Any]:
        _check_object_type(object_type)
        definition = CONTACT_PROPERTY_MAP.get(property_name)
        if definition is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f'Property "{property_name}" does not exist')
        return to_wire(definition, owners)

    @app.get("/crm/v3/objects/contacts")
    async def list_contacts(request: Request, limit: int = 10, after: str | None = None,
                            properties: Names = None) -> dict[str, Any]:
        return contacts.list_page(limit, after, requested_names(properties), _base_url(request))

    @app.post("/crm/v3/objects/contacts", status_code=201)
    async def create_contact(request: Request) -> dict[str, Any]:
        body = await read_body(request, ObjectInput)
        return contacts.create(texts(body.properties))

    @app.post("/crm/v3/objects/contacts/search")
    async def search_contacts(request: Request) -> dict[str, Any]:
        return contacts.search(await read_body(request, SearchInput))

    @app.post("/crm/v3/objects/contacts/batch/upsert")
    async def upsert_contacts(request: Request) -> dict[str, Any]:
        body = await read_body(request, BatchUpsertInput)
        return contacts.upsert_batch(body.inputs)

    @app.get("/crm/v3/objects/contacts/{contact_id}")
    async def get_contact(contact_id: str, id_property: IdProperty = None,
                          properties: Names = None) -> dict[str, Any]:
        return contacts.get(contact_id, id_property, requested_names(properties))

    @app.patch("/crm/v3/objects/contacts/{contact_id}")
    async def update_contact(request: Request, contact_id: str,
                             id_property: IdProperty = None) -> dict[str, Any]:
        body = await read_body(request, ObjectInput)
        return contacts.update(contact_id, id_property, texts(body.properties))

    # The client asks for "/crm/v3/owners/"; both spellings answer, without a redirect.
    @app.get("/crm/v3/owners")
    @app.get("/crm/v3/owners/")
    async def list_owners(request: Request, email: str | None = None, limit: int = 100,
                          after: str | None = None, archived: bool = False) -> dict[str, Any]:
        return owners_page(owners, email=email, limit=limit, after=after, archived=archived,
                           base_url=_base_url(request))

    @app.get("/crm/v3/owners/{owner_id}")
    async def get_owner(owner_id: str, id_property: IdProperty = "id") -> dict[str, Any]:
        owner = find_owner(owners, owner_id, id_property or "id")
        if owner is None:
            raise object_not_found()
        return owner.to_wire()

    return app
