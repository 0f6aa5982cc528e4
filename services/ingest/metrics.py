"""Prometheus metrics of ingest: requests and events by source and outcome, publish latency."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class IngestMetrics:
    """The metrics one ingest app exposes at ``/metrics`` (a registry per app instance)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "accord_ingest_requests", "HTTP requests by source (route) and outcome (status)",
            ["source", "outcome"], registry=self.registry)
        self.events = Counter(
            "accord_ingest_events", "Events by source and outcome (published or refused)",
            ["source", "outcome"], registry=self.registry)
        self.publish_seconds = Histogram(
            "accord_ingest_publish_seconds", "Time until Kafka acknowledged (acks=all)",
            ["source"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

    def published(self, source: str, count: int, started: float) -> None:
        """Record events Kafka acknowledged, and how long it took."""
        self.events.labels(source, "published").inc(count)
        self.publish_seconds.labels(source).observe(time.perf_counter() - started)

    def refused(self, source: str, count: int) -> None:
        """Record events that were not accepted because Kafka did not acknowledge."""
        self.events.labels(source, "unavailable").inc(count)


class RequestMetricsMiddleware:
    """Counts every request by its route template and answer status."""

    def __init__(self, app: ASGIApp, metrics: IngestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            source = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(source, str(status)).inc()
