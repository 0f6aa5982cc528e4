"""The Salesforce sandbox as an ASGI app: token endpoint, API gate and error shapes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from sandboxes.salesforce import describe
from sandboxes.salesforce.admin_routes import add_admin_routes
from sandboxes.salesforce.api_gate import error_response, install_api_gate
from sandboxes.salesforce.auth import ApiUsage, Sessions
from sandboxes.salesforce.data_routes import MAX_BODY_BYTES, add_data_routes
from sandboxes.salesforce.errors import ApiError, OAuthError, not_found
from sandboxes.salesforce.knobs import Knobs
from sandboxes.salesforce.metadata import SObjectDef
from sandboxes.salesforce.outbound_delivery import OutboundDelivery
from sandboxes.salesforce.outbox import Outbox
from sandboxes.salesforce.records import Records
from sandboxes.salesforce.sales_routes import add_sales_routes
from sandboxes.salesforce.seed import seed_users, users_from_owners_file
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.sobject_collections import add_collection_routes
from sandboxes.salesforce.soql_ast import SoqlError
from sandboxes.salesforce.store import Store


def create_app(settings: SalesforceSandboxSettings) -> FastAPI:
    """The sandbox app over the sqlite state in ``settings.data_dir`` (seeding Users).

    ``app.state.knobs`` holds the test/demo knobs (the listener reads the outage from it).
    """
    store = Store(settings.database_path)
    seed_users(store, users_from_owners_file(settings.owners_file), datetime.now(UTC))
    sessions = Sessions(settings, store)
    usage = ApiUsage(store, settings.api_daily_limit)
    knobs = Knobs(settings, usage)
    outbox = Outbox(store, settings.outbound_sobjects)
    delivery = OutboundDelivery(settings, store, outbox, knobs, sessions)

    def notify(target: SObjectDef, record: dict[str, Any]) -> None:
        """Workflow: queue an Outbound Message for the change, when one is configured."""
        if knobs.outbound_message_url is not None and outbox.wants(target):
            outbox.enqueue(target, record)
            delivery.wake()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(delivery.run(), name="outbound-delivery")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            store.close()

    app = FastAPI(title="Salesforce sandbox", lifespan=lifespan, redirect_slashes=False,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.knobs = knobs
    install_api_gate(app, sessions, usage, knobs)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> Response:
        return error_response(error)

    @app.exception_handler(SoqlError)
    async def soql_error(_: Request, error: SoqlError) -> Response:
        return JSONResponse([{"message": error.message, "errorCode": error.error_code}], 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 405:
            allowed = ",".join(sorted(_allowed_methods(app, request)))
            return JSONResponse([{
                "errorCode": "METHOD_NOT_ALLOWED",
                "message": f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
            }], 405)
        if error.status_code == 404:
            return error_response(not_found())
        return JSONResponse([{"errorCode": "UNKNOWN_EXCEPTION", "message": str(error.detail)}],
                            error.status_code)

    @app.get("/__sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/services/oauth2/token")
    async def token(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise OAuthError("invalid_request", "request too large")
        form = dict(request.query_params)
        form.update({key: values[0] for key, values in
                     parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()})
        answer = sessions.issue(form, _basic_credentials(request.headers.get("authorization")))
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @app.exception_handler(OAuthError)
    async def oauth_error(_: Request, error: OAuthError) -> Response:
        return JSONResponse(error.body(), 400, headers={"Cache-Control": "no-store"})

    @app.get("/services/data")
    @app.get("/services/data/")
    async def versions() -> list[dict[str, str]]:
        return describe.versions()

    records = Records(store, on_save=notify)
    add_data_routes(app, records, usage)
    add_collection_routes(app, records)
    add_admin_routes(app, settings, knobs, sessions, usage, outbox, delivery)
    add_sales_routes(app, settings, records)
    return app


def _allowed_methods(app: FastAPI, request: Request) -> set[str]:
    """Every method some route serves at the request's path."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] == Match.PARTIAL:
            methods |= route.methods or set()
    return methods


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """Client id and secret from an ``Authorization: Basic`` header, if one is there."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
