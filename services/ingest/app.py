"""Wires ingest together: settings, the Kafka publisher, routes and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.ingest import (
    event_routes,
    health_routes,
    hubspot_webhooks,
    lead_routes,
    metrics_routes,
    salesforce_outbound,
)
from services.ingest.body_limit import BodyLimitMiddleware
from services.ingest.idempotency import IdempotencyStore
from services.ingest.metrics import IngestMetrics, RequestMetricsMiddleware
from services.ingest.problems import (
    ProblemError,
    handle_broker_unavailable,
    handle_http_error,
    handle_problem,
    handle_validation,
)
from services.ingest.publisher import BrokerUnavailableError, EventPublisher
from services.ingest.settings import IngestSettings


def create_app(settings: IngestSettings | None = None,
               publisher: EventPublisher | None = None) -> FastAPI:
    """The ingest ASGI app; pass settings or a publisher to override the environment's."""
    settings = settings or IngestSettings()
    metrics = IngestMetrics()
    publisher = publisher or EventPublisher(settings.kafka, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()

    app = FastAPI(title="Accord ingest", version="1", lifespan=lifespan,
                  description="Accepts leads and CRM events and puts them on Kafka.")
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.metrics = metrics
    app.state.idempotency = IdempotencyStore()
    app.add_exception_handler(ProblemError, handle_problem)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(BrokerUnavailableError, handle_broker_unavailable)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    # Outermost: refuse oversized bodies before anything reads them.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.include_router(lead_routes.router)
    app.include_router(event_routes.router)
    app.include_router(hubspot_webhooks.router)
    app.include_router(salesforce_outbound.router)
    app.include_router(health_routes.router)
    app.include_router(metrics_routes.router)
    return app
