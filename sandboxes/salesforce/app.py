"""The Salesforce sandbox as an ASGI app: token endpoint, API gate and error shapes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from sandboxes.salesforce import describe
from sandboxes.salesforce.auth import ApiUsage, OAuthError, Sessions
from sandboxes.salesforce.data_routes import MAX_BODY_BYTES, add_data_routes
from sandboxes.salesforce.errors import ApiError, not_found
from sandboxes.salesforce.records import Records
from sandboxes.salesforce.seed import seed_users, users_from_owners_file
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.soql_ast import SoqlError
from sandboxes.salesforce.store import Store

_VERSIONS_PATHS = ("/services/data", "/services/data/")


def create_app(settings: SalesforceSandboxSettings) -> FastAPI:
    """The sandbox app over the sqlite state in ``settings.data_dir`` (seeding Users)."""
    store = Store(settings.database_path)
    seed_users(store, users_from_owners_file(settings.owners_file), datetime.now(UTC))
    sessions = Sessions(settings, store)
    usage = ApiUsage(store, settings.api_daily_limit)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="Salesforce sandbox", lifespan=lifespan, redirect_slashes=False,
                  docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def api_gate(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Authenticate and meter every REST call; stamp each answer with the usage header."""
        path = request.url.path
        if not path.startswith("/services/data"):
            return await call_next(request)
        if path in _VERSIONS_PATHS:
            response = await call_next(request)
        else:
            try:
                sessions.user_for(request.headers.get("authorization"))
                usage.count_call()
            except ApiError as error:
                response = _error_response(error)
            else:
                response = await call_next(request)
        response.headers["Sforce-Limit-Info"] = usage.header()
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> Response:
        return _error_response(error)

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
            return _error_response(not_found())
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

    add_data_routes(app, Records(store), usage)
    return app


def _allowed_methods(app: FastAPI, request: Request) -> set[str]:
    """Every method some route serves at the request's path."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] == Match.PARTIAL:
            methods |= route.methods or set()
    return methods


def _error_response(error: ApiError) -> Response:
    return JSONResponse(error.body(), error.status)


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
