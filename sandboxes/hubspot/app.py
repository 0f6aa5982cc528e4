"""The HubSpot sandbox application: stores, services and webhooks wired to their routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandboxes.hubspot.admin_routes import AdminParts, admin_router, health_router
from sandboxes.hubspot.association_routes import association_router
from sandboxes.hubspot.associations import AssociationService
from sandboxes.hubspot.changes import Change, ChangeSource
from sandboxes.hubspot.contact_routes import contact_router
from sandboxes.hubspot.contacts import ContactService
from sandboxes.hubspot.crm_guard import error_response, install_crm_guard
from sandboxes.hubspot.deal_routes import deal_router
from sandboxes.hubspot.deal_store import DealStore
from sandboxes.hubspot.deals import DealService
from sandboxes.hubspot.errors import ApiError, object_not_found, validation_error
from sandboxes.hubspot.knobs import Knobs
from sandboxes.hubspot.owners import load_owners
from sandboxes.hubspot.portal_routes import portal_router
from sandboxes.hubspot.settings import HubSpotSandboxSettings
from sandboxes.hubspot.store import ContactStore
from sandboxes.hubspot.webhook_delivery import DeliveryPolicy, WebhookDispatcher
from sandboxes.hubspot.webhook_events import EventFactory


def _dispatcher(settings: HubSpotSandboxSettings) -> WebhookDispatcher | None:
    if not settings.webhook_target_url:
        return None
    return WebhookDispatcher(DeliveryPolicy(
        target_url=settings.webhook_target_url,
        client_secret=settings.client_secret.get_secret_value(),
        max_attempts=settings.webhook_max_attempts,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        retry_cap_seconds=settings.webhook_retry_cap_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
        max_concurrent=settings.webhook_max_concurrent_requests))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc'])}: {issue['msg']}" for issue in error.errors())
        return error_response(validation_error(f"Invalid request parameters: {problems}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            return error_response(object_not_found())
        return error_response(ApiError(error.status_code, "VALIDATION_ERROR", str(error.detail)))


def create_app(settings: HubSpotSandboxSettings) -> FastAPI:
    """The sandbox application, with its state in ``settings.database_path``."""
    store = ContactStore(settings.database_path)
    deal_store = DealStore(store.connection)
    owners = load_owners(settings.owners_file)
    dispatcher = _dispatcher(settings)
    events = EventFactory(settings.app_id, settings.portal_id, settings.webhook_subscriptions)

    def notify(changes: list[Change]) -> None:
        if dispatcher is not None:
            dispatcher.publish(events.events(changes))

    api_source = ChangeSource.integration(settings.app_id)
    contacts = ContactService(store, owners, settings.portal_id, api_source=api_source,
                              notify=notify)
    deals = DealService(store, deal_store, owners, settings.portal_id, api_source, notify)
    knobs = Knobs.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if dispatcher is not None:
            dispatcher.start()
        try:
            yield
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            store.close()

    app = FastAPI(title="HubSpot sandbox", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    install_crm_guard(app, settings.access_token.get_secret_value(), store, knobs)
    _install_error_handlers(app)
    app.include_router(health_router())
    app.include_router(admin_router(AdminParts(
        admin_token=settings.admin_token.get_secret_value(), contacts=contacts, deals=deals,
        owners=owners, knobs=knobs, default_knobs=partial(Knobs.from_settings, settings),
        dispatcher=dispatcher, store=store)))
    app.include_router(portal_router(owners))
    associations = AssociationService(store, deal_store)
    app.include_router(contact_router(contacts, associations))
    app.include_router(deal_router(deals))
    app.include_router(association_router(associations))
    return app
