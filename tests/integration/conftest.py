"""Integration fixtures: a real ingest process on this session's topics, and a Salesforce
and a HubSpot sandbox process per module."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from services.messaging.settings import KafkaSettings
from tests.integration.sandboxes.conftest import SalesforceSandbox, running_sandbox
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox, start_hubspot_sandbox
from tests.integration.service_processes import start_ingest

API_KEY = "integration-test-key"
WEBHOOK_SECRET = "whsec_aW50ZWdyYXRpb24tdGVzdC1zaWduaW5nLXNlY3JldA=="
BODY_LIMIT = 65_536


@pytest.fixture(scope="module")
def ingest(kafka: KafkaSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ingest process publishing to this session's topics; yields its base URL."""
    url, process = start_ingest(kafka, tmp_path_factory.mktemp("ingest") / "ingest.log", {
        "ACCORD_INGEST_API_KEYS": json.dumps([API_KEY]),
        "ACCORD_INGEST_WEBHOOK_SECRETS": json.dumps([WEBHOOK_SECRET]),
        "ACCORD_INGEST_MAX_BODY_BYTES": str(BODY_LIMIT),
    })
    try:
        yield url
    finally:
        process.stop()


@pytest.fixture(scope="module")
def salesforce_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesforceSandbox]:
    """A Salesforce sandbox process shared by the tests of one module, stopped at its end."""
    sandbox = running_sandbox(tmp_path_factory)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def hubspot_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSpotSandbox]:
    """A HubSpot sandbox process shared by the tests of one module, stopped at its end."""
    sandbox = start_hubspot_sandbox(tmp_path_factory.mktemp("hubspot") / "data")
    try:
        yield sandbox
    finally:
        sandbox.stop()
