"""Integration fixtures: a real ingest process on this session's topics."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from services.messaging.settings import KafkaSettings
from tests.conftest import free_port
from tests.integration.service_processes import start_service, wait_for_http

API_KEY = "integration-test-key"
WEBHOOK_SECRET = "whsec_aW50ZWdyYXRpb24tdGVzdC1zaWduaW5nLXNlY3JldA=="
BODY_LIMIT = 65_536


@pytest.fixture(scope="module")
def ingest(kafka: KafkaSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ingest process publishing to this session's topics; yields its base URL."""
    port = free_port()
    process = start_service("services.ingest", {
        "ACCORD_INGEST_PORT": str(port),
        "ACCORD_INGEST_API_KEYS": json.dumps([API_KEY]),
        "ACCORD_INGEST_WEBHOOK_SECRETS": json.dumps([WEBHOOK_SECRET]),
        "ACCORD_INGEST_MAX_BODY_BYTES": str(BODY_LIMIT),
        "ACCORD_INGEST_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
    }, tmp_path_factory.mktemp("ingest") / "ingest.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health/ready", process)
        yield url
    finally:
        process.stop()
